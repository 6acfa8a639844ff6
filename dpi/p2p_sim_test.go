package dpi

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// Helpers for this family's table tests: a flow is a list of payloads with
// their directions, played through an engine with newSim.

type pkt struct {
	d Dir
	b []byte
}

func c2s(b []byte) pkt { return pkt{ToServer, b} }
func s2c(b []byte) pkt { return pkt{ToClient, b} }

// play runs the payloads of one flow (a TCP flow starts with a handshake)
// and returns the flow's result after the last one.
func play(t testing.TB, proto uint8, cli, srv string, pkts ...pkt) Result {
	t.Helper()
	s := newSim(t, proto, cli, srv)
	return s.play(pkts...)
}

func (s *sim) play(pkts ...pkt) Result {
	if s.proto == IPProtoTCP {
		s.handshake()
	}
	var f *Flow
	for _, p := range pkts {
		f = s.send(p.d, p.b)
	}
	if f == nil {
		return Result{}
	}
	return f.Result
}

// next is another flow in the same engine (for engine-wide caches).
func (s *sim) next(proto uint8, cli, srv string) *sim {
	return &sim{t: s.t, e: s.e, now: s.now, proto: proto,
		cli: netip.MustParseAddrPort(cli), srv: netip.MustParseAddrPort(srv),
		seq: [2]uint32{7000, 9000}}
}

// unhexs decodes hex with spaces and newlines for readability.
func unhexs(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }
func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
func u32le(v uint32) []byte {
	return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}
func fill(n int, b byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b + byte(i)
	}
	return out
}

// wantApp checks the application name (and that the result is final).
func wantApp(t *testing.T, r Result, name string) {
	t.Helper()
	if got := r.AppName(); got != name {
		t.Errorf("application %q, want %q (state %v, confidence %v)", got, name, r.State, r.Confidence)
	}
}

// allocsPerFlow measures the allocations of replaying one flow's packets
// through a warmed-up engine (decoding included), flushing it each time.
func allocsPerFlow(t *testing.T, proto uint8, cli, srv string, pkts ...pkt) float64 {
	t.Helper()
	s := newSim(t, proto, cli, srv)
	s.e.cfg.OnEnd = nil
	var bufs [][]byte
	var dirs []Dir
	add := func(d Dir, flags uint8, payload []byte) {
		src, dst := s.cli, s.srv
		if d == ToClient {
			src, dst = dst, src
		}
		bufs = append(bufs, buildIP(nil, proto, src, dst, flags, s.seq[d], s.seq[1-d], payload))
		dirs = append(dirs, d)
		n := uint32(len(payload))
		if flags&TCPSyn != 0 {
			n++
		}
		s.seq[d] += n
	}
	if proto == IPProtoTCP {
		add(ToServer, TCPSyn, nil)
		add(ToClient, TCPSyn|TCPAck, nil)
		add(ToServer, TCPAck, nil)
	}
	for _, p := range pkts {
		flags := uint8(0)
		if proto == IPProtoTCP {
			flags = TCPPsh | TCPAck
		}
		add(p.d, flags, p.b)
	}
	var pk Packet
	now := int64(1_700_000_000e9)
	run := func() {
		for _, b := range bufs {
			if err := pk.DecodeIP(b); err != nil {
				t.Fatal(err)
			}
			now += 1e6
			s.e.Process(&pk, now)
		}
		s.e.Flush()
	}
	run()
	return testing.AllocsPerRun(50, run)
}
