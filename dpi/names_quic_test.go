package dpi

import (
	"encoding/binary"
	"fmt"
	"testing"

	"ips/dpi/quic"
)

// Tests of QUIC Initials that spread, shuffle and pad the ClientHello's
// CRYPTO data the ways a QUIC stack accepts (RFC 9000 §19.6: CRYPTO frames
// carry their offset and may come in any order; §12.2: packets may be
// coalesced in one datagram), and of Encrypted Client Hello in TLS and
// QUIC. Each for a blocked and an allowed name.

// quicHello is a QUIC ClientHello with a post-quantum key share, padded to
// total bytes when total > 0.
func quicHello(sni string, total int) []byte {
	spec := chrome13(sni)
	spec.alpn = []string{"h3"}
	spec.versions = []uint16{0x0304}
	spec.extra = append(spec.extra, tlsExt{0x39, make([]byte, 60)}, tlsExt{0x11ec, make([]byte, 1216)})
	msg := clientHelloMsg(spec)
	if total > len(msg)+4 {
		spec.padding = total - len(msg) - 4
		msg = clientHelloMsg(spec)
	}
	return msg
}

// frameRun is CRYPTO frames covering msg in pieces of n bytes.
func frameRun(msg []byte, n int) [][]byte {
	var fs [][]byte
	for off := 0; off < len(msg); off += n {
		fs = append(fs, cryptoFrame(off, msg[off:min(off+n, len(msg))]))
	}
	return fs
}

// zeroRTT is a 0-RTT long-header packet (RFC 9000 §17.2.3) with an
// undecryptable payload.
func zeroRTT(dcid []byte, n int) []byte {
	h := binary.BigEndian.AppendUint32([]byte{0xd3}, quic.Version1)
	h = append(h, byte(len(dcid)))
	h = append(h, dcid...)
	h = append(h, 0)
	h = binary.BigEndian.AppendUint16(h, 0x4000|uint16(n))
	return append(h, make([]byte, n)...)
}

func TestQUICCryptoTricks(t *testing.T) {
	dcid := []byte{8, 7, 6, 5, 4, 3, 2, 1}
	type trick struct {
		name string
		// datagrams builds the client's datagrams from the hello.
		datagrams func(t *testing.T, ch []byte) [][]byte
	}
	pack := func(t *testing.T, pn uint32, frames ...[]byte) []byte {
		var b []byte
		for _, f := range frames {
			b = append(b, f...)
		}
		return quicInitialPacket(t, dcid, pn, b)
	}
	tricks := []trick{
		{"two Initials in order", func(t *testing.T, ch []byte) [][]byte {
			fs := frameRun(ch, 1000)
			return [][]byte{pack(t, 0, fs[0]), pack(t, 1, fs[1:]...)}
		}},
		{"two Initials, second first", func(t *testing.T, ch []byte) [][]byte {
			fs := frameRun(ch, 1000)
			return [][]byte{pack(t, 1, fs[1:]...), pack(t, 0, fs[0])}
		}},
		{"frames shuffled inside each packet, PING and PADDING between", func(t *testing.T, ch []byte) [][]byte {
			fs := frameRun(ch, 150)
			var a, b [][]byte
			for i := len(fs) - 1; i >= 0; i-- {
				if i < len(fs)/2 {
					a = append(a, fs[i], []byte{0x01, 0x00, 0x00})
				} else {
					b = append(b, []byte{0x01}, fs[i], []byte{0x00})
				}
			}
			return [][]byte{pack(t, 0, a...), pack(t, 1, b...)}
		}},
		{"every 3 bytes a frame, odd frames first", func(t *testing.T, ch []byte) [][]byte {
			fs := frameRun(ch, 3)
			var order [][]byte
			for i := 1; i < len(fs); i += 2 {
				order = append(order, fs[i])
			}
			for i := 0; i < len(fs); i += 2 {
				order = append(order, fs[i])
			}
			var dgs [][]byte
			for pn := 0; len(order) > 0; pn++ {
				n := min(len(order), 120) // 120 frames of 3 bytes (+ 8 of header) a packet
				dgs = append(dgs, pack(t, uint32(pn), order[:n]...))
				order = order[n:]
			}
			return dgs
		}},
		{"overlapping retransmissions", func(t *testing.T, ch []byte) [][]byte {
			h := len(ch) / 2
			return [][]byte{pack(t, 0, cryptoFrame(0, ch[:h+100])), pack(t, 1, cryptoFrame(h-200, ch[h-200:]), cryptoFrame(0, ch[:50]))}
		}},
		{"Initial and 0-RTT coalesced", func(t *testing.T, ch []byte) [][]byte {
			fs := frameRun(ch, 1000)
			return [][]byte{append(pack(t, 0, fs[0]), zeroRTT(dcid, 200)...), append(pack(t, 1, fs[1:]...), zeroRTT(dcid, 100)...)}
		}},
		{"two Initials coalesced, second first", func(t *testing.T, ch []byte) [][]byte {
			fs := frameRun(ch, 1000)
			return [][]byte{append(pack(t, 1, fs[1:]...), pack(t, 0, fs[0])...)}
		}},
		{"0-RTT first, then the Initials", func(t *testing.T, ch []byte) [][]byte {
			fs := frameRun(ch, 1000)
			return [][]byte{zeroRTT(dcid, 1200), pack(t, 0, fs[0]), pack(t, 1, fs[1:]...)}
		}},
	}
	for _, tr := range tricks {
		for _, size := range []int{0, 4096, 8192} {
			for _, host := range []string{"blocked.example", "allowed.example"} {
				t.Run(fmt.Sprintf("%s/%d/%s", tr.name, size, host), func(t *testing.T) {
					ch := quicHello(host, size)
					if size == 0 && len(ch) < 1100 {
						t.Fatalf("hello of %d bytes", len(ch))
					}
					s := newSim(t, IPProtoUDP, "10.0.0.1:50001", "192.0.2.9:443")
					var f *Flow
					for i, d := range tr.datagrams(t, ch) {
						f = s.send(ToServer, d)
						if i == 0 {
							s.send(ToClient, make([]byte, 60)) // the server answers meanwhile
						}
					}
					r := &f.Result
					if r.Master != ProtoQUIC || r.Hostname != host || r.JA4 == "" || r.Uninspectable {
						t.Fatalf("%d-byte hello: %s %q JA4 %q uninspectable %v state %v", len(ch), r.AppName(), r.Hostname, r.JA4, r.Uninspectable, r.State)
					}
					if s.e.streamsOut != 0 {
						t.Errorf("%d pooled buffers not returned", s.e.streamsOut)
					}
				})
			}
		}
	}
}

// TestQUICNearMisses: a hello that never completes, or is larger than the
// buffer, names nothing and says it could not be read; a late frame
// rewriting bytes already held does not change the name.
func TestQUICNearMisses(t *testing.T) {
	dcid := []byte{8, 7, 6, 5, 4, 3, 2, 1}
	t.Run("too large", func(t *testing.T) {
		ch := quicHello("blocked.example", 20000)
		s := newSim(t, IPProtoUDP, "10.0.0.1:50001", "192.0.2.9:443")
		var f *Flow
		for pn, fr := range frameRun(ch, 1100) {
			f = s.send(ToServer, quicInitialPacket(t, dcid, uint32(pn), fr))
			if f.Result.State.Final() {
				break
			}
		}
		if r := &f.Result; !r.Uninspectable || r.Hostname != "" || r.Master != ProtoQUIC {
			t.Fatalf("%s %q uninspectable %v", r.AppName(), r.Hostname, r.Uninspectable)
		}
	})
	t.Run("late rewrite of the name", func(t *testing.T) {
		ch := quicHello("blocked.example", 0)
		fake := quicHello("allowed.example", 0)
		s := newSim(t, IPProtoUDP, "10.0.0.1:50001", "192.0.2.9:443")
		fs, fk := frameRun(ch, 1000), frameRun(fake, 1000)
		s.send(ToServer, quicInitialPacket(t, dcid, 0, fs[0]))
		f := s.send(ToServer, quicInitialPacket(t, dcid, 1, append(append([]byte{}, fk[0]...), fs[1]...)))
		if f.Result.Hostname != "blocked.example" {
			t.Fatalf("hostname %q", f.Result.Hostname)
		}
	})
	t.Run("hole never filled", func(t *testing.T) {
		ch := quicHello("blocked.example", 0)
		fs := frameRun(ch, 500)
		s := newSim(t, IPProtoUDP, "10.0.0.1:50001", "192.0.2.9:443")
		var f *Flow
		for pn, fr := range fs[1:] {
			f = s.send(ToServer, quicInitialPacket(t, dcid, uint32(pn), fr))
		}
		for range 20 {
			f = s.send(ToServer, make([]byte, 40)) // short-header packets
		}
		if f.Result.Hostname != "" {
			t.Fatalf("hostname %q without the hello's start", f.Result.Hostname)
		}
	})
}

// TestQUICScatteredAllocs: reassembling a hello from many frames over
// several Initials costs nothing in the steady state.
func TestQUICScatteredAllocs(t *testing.T) {
	dcid := []byte{8, 7, 6, 5, 4, 3, 2, 1}
	ch := quicHello("blocked.example", 4096)
	fs := frameRun(ch, 700)
	var dgs [][]byte
	for i := len(fs) - 1; i >= 0; i-- {
		dgs = append(dgs, quicInitialPacket(t, dcid, uint32(i), fs[i]))
	}
	s := newSim(t, IPProtoUDP, "10.0.0.1:50001", "192.0.2.9:443")
	var pkts [][]byte
	for _, d := range dgs {
		pkts = append(pkts, buildIP(nil, IPProtoUDP, s.cli, s.srv, 0, 0, 0, d))
	}
	e := NewEngine(Config{})
	var p Packet
	now := simTime.UnixNano()
	var res Result
	run := func() {
		for _, b := range pkts {
			if err := p.DecodeIP(b); err != nil {
				t.Fatal(err)
			}
			now += 1e6
			if f, _ := e.Process(&p, now); f != nil {
				res = f.Result
			}
		}
		e.Flush()
	}
	run()
	if res.Hostname != "blocked.example" {
		t.Fatalf("not read: %+v", res)
	}
	if a := testing.AllocsPerRun(20, run); a != 0 {
		t.Errorf("%v allocations per scattered QUIC connection", a)
	}
}

func TestECHFlagged(t *testing.T) {
	ech := func(n int) []byte { // an outer ECHClientHello (RFC 9849 §5)
		b := []byte{0, 0, 1, 0, 1, 0x2a, 0, 32}
		b = append(b, make([]byte, 32)...)
		b = put16(b, uint16(n))
		return append(b, make([]byte, n)...)
	}
	for _, host := range []string{"public.example", "allowed.example"} {
		spec := chrome13(host)
		spec.extra = append(spec.extra, tlsExt{0xfe0d, ech(239)})
		f := tlsClient(t, [][]byte{tlsRecords(22, 0x0301, clientHelloMsg(spec), 1<<14)})
		if r := &f.Result; r.Hostname != host || !r.Risks.Has(RiskTLSECH) || r.Risks.Has(RiskTLSSuspiciousExtension) {
			t.Errorf("TLS with ECH to %s: %q risks %v", host, r.Hostname, r.Risks.AppendNames(nil))
		}
		plain := tlsClient(t, [][]byte{tlsRecords(22, 0x0301, clientHelloMsg(chrome13(host)), 1<<14)})
		if plain.Result.Risks.Has(RiskTLSECH) {
			t.Errorf("ECH flagged without the extension")
		}
		// QUIC carries the same hello.
		qs := chrome13(host)
		qs.alpn, qs.versions = []string{"h3"}, []uint16{0x0304}
		qs.extra = append(qs.extra, tlsExt{0x39, make([]byte, 60)}, tlsExt{0xfe0d, ech(239)})
		s := newSim(t, IPProtoUDP, "10.0.0.1:50001", "192.0.2.9:443")
		q := s.send(ToServer, quicInitialPacket(t, []byte{1, 2, 3, 4, 5, 6, 7, 8}, 0, cryptoFrame(0, clientHelloMsg(qs))))
		if r := &q.Result; r.Hostname != host || !r.Risks.Has(RiskTLSECH) {
			t.Errorf("QUIC with ECH to %s: %q risks %v", host, r.Hostname, r.Risks.AppendNames(nil))
		}
	}
	if RiskTLSECH.String() != "TLS Encrypted Client Hello" || RiskTLSECH.Enum() != "IPS_TLS_ECH" || !RiskTLSECH.Valid() || RiskTLSECH.Score() != 10 {
		t.Errorf("registry: %q %q %v %d", RiskTLSECH.String(), RiskTLSECH.Enum(), RiskTLSECH.Valid(), RiskTLSECH.Score())
	}
	for _, n := range []string{"IPS_TLS_ECH", "tls_ech", "TLS Encrypted Client Hello", "63"} {
		if r, ok := RiskByName(n); !ok || r != RiskTLSECH {
			t.Errorf("RiskByName(%q) = %v, %v", n, r, ok)
		}
	}
	for _, n := range []string{"57", "62", "64", "IPS_NOTHING"} {
		if _, ok := RiskByName(n); ok {
			t.Errorf("RiskByName(%q) found a risk", n)
		}
	}
}
