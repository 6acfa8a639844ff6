package dpi

import (
	"fmt"
	"testing"

	"ips/internal/tcpcraft"
)

// replayConn runs crafted packets through a fresh engine as the kernel
// hands them over (checksums not verified by anyone) and returns the
// flow's result when it ended.
func replayConn(t testing.TB, cfg Config, pkts [][]byte) (Result, Stats) {
	t.Helper()
	var res []Result
	cfg.OnEnd = func(f *Flow, _ EndReason) { res = append(res, f.Result) }
	e := NewEngine(cfg)
	var p Packet
	now := int64(1_700_000_000e9)
	for i, b := range pkts {
		if err := p.DecodeIP(b); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		p.Checksum = ChecksumUnverified
		now += 1e6
		e.Process(&p, now)
	}
	e.Flush()
	if len(res) != 1 {
		t.Fatalf("%d flows, want 1", len(res))
	}
	return res[0], e.Stats()
}

// TestStreamTricks: for every trick class, the engine names the host the
// server reads — the blocked one when it hides behind an allowed decoy,
// the allowed one when a blocked decoy is thrown in — for TLS and HTTP.
func TestStreamTricks(t *testing.T) {
	const blocked, allowed = "blocked.example", "allowed.example"
	for _, proto := range []struct {
		name string
		port string
		msg  func(string) []byte
	}{
		{"TLS", "443", func(h string) []byte { return tcpcraft.ClientHello(h, 0) }},
		{"HTTP", "80", tcpcraft.HTTPRequest},
	} {
		for _, tr := range tcpcraft.Tricks {
			for _, names := range [][2]string{{blocked, allowed}, {allowed, blocked}} {
				real, decoy := names[0], names[1]
				t.Run(fmt.Sprintf("%s/%s/%s", proto.name, tr.Name, real), func(t *testing.T) {
					c := tcpcraft.New("10.0.0.2:40000", "192.0.2.7:"+proto.port)
					r, st := replayConn(t, Config{}, tr.Packets(c, proto.msg(real), proto.msg(decoy)))
					if r.Hostname != real || r.Uninspectable {
						t.Errorf("hostname %q (uninspectable %v), want %q; %s; stats %+v", r.Hostname, r.Uninspectable, real, r.AppName(), st)
					}
				})
			}
		}
	}
}
