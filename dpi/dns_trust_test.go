package dpi

import (
	"net/netip"
	"testing"
)

// dnsA is a response for name with one A record addr (the question and
// the answer owner as given, so a test can vary the case).
func dnsA(id uint16, name string, qtype uint16, addr string) []byte {
	m := newDNSMsg(id, dnsQR, 1, 1, 0, 0).question(name, qtype)
	m.ptr(12).rr(1, 1, 60, netip.MustParseAddr(addr).AsSlice())
	return m.b
}

func dnsQ(id uint16, name string, qtype uint16) []byte {
	return newDNSMsg(id, dnsRD, 1, 0, 0, 0).question(name, qtype).b
}

// An answer teaches the DNS cache only when it answers a query the
// client sent: same id and question, from the server (the flow's other
// end, entering from the other side of the gateway), in time.
func TestDNSAnswerMustAnswerAQuery(t *testing.T) {
	const name, addr = "allowed.example", "198.51.100.7"
	type pkt struct {
		dir     Dir
		ingress Ingress
		wait    int64 // ns before the packet
		b       []byte
	}
	q := func(in Ingress) pkt { return pkt{ToServer, in, 0, dnsQ(0x4242, name, 1)} }
	a := func(in Ingress, b []byte) pkt { return pkt{ToClient, in, 0, b} }
	ans := dnsA(0x4242, name, 1, addr)
	for _, c := range []struct {
		what  string
		pkts  []pkt
		named bool
	}{
		{"query then answer", []pkt{q(0), a(0, ans)}, true},
		{"query then answer, sides known", []pkt{q(IngressInside), a(IngressOutside, ans)}, true},
		{"answer echoes the name in other case (0x20)", []pkt{q(0), a(0, dnsA(0x4242, "AllOwed.EXAMPLE", 1, addr))}, true},
		{"answer after a retransmitted query", []pkt{q(0), {ToServer, 0, 8e9, dnsQ(0x4242, name, 1)}, {ToClient, 0, 3e9, ans}}, true},
		{"unsolicited answer", []pkt{a(0, ans)}, false},
		{"other transaction id", []pkt{q(0), a(0, dnsA(0x4243, name, 1, addr))}, false},
		{"other question name", []pkt{q(0), a(0, dnsA(0x4242, "other.example", 1, addr))}, false},
		{"other question type", []pkt{q(0), a(0, dnsA(0x4242, name, 28, addr))}, false},
		{"answer sent by the client", []pkt{q(0), {ToServer, 0, 0, ans}}, false},
		{"answer entering from the client's side (forged on the LAN)", []pkt{q(IngressInside), a(IngressInside, ans)}, false},
		{"answer too late", []pkt{q(0), {ToClient, 0, 11e9, ans}}, false},
	} {
		t.Run(c.what, func(t *testing.T) {
			s := newSim(t, IPProtoUDP, "10.0.0.1:53000", "192.0.2.53:53")
			for _, p := range c.pkts {
				s.now += p.wait
				s.ingress[p.dir] = p.ingress
				s.send(p.dir, p.b)
			}
			got, ok := s.e.dns.Get(netip.MustParseAddr(addr))
			if c.named && (!ok || got != name) {
				t.Errorf("cache: %q %v, want %q", got, ok, name)
			}
			if !c.named && ok {
				t.Errorf("cache learned %q for %s", got, addr)
			}
		})
	}
}

// A forged answer from the LAN side, sent before the real one, names
// nothing: a later flow to the forged address carries no name, and the
// real answer that follows still names the real address.
func TestDNSForgedAnswerNamesNoLaterFlow(t *testing.T) {
	d := newSim(t, IPProtoUDP, "10.0.0.1:53000", "192.0.2.53:53")
	d.ingress = [2]Ingress{IngressInside, IngressOutside}
	d.send(ToServer, dnsQ(7, "allowed.example", 1))
	// Forged: the server's address and port, the query's id and question,
	// but entering from the LAN.
	d.ingress[ToClient] = IngressInside
	f := d.send(ToClient, dnsA(7, "allowed.example", 1, "203.0.113.66"))
	if f.Result.State.Final() {
		t.Fatal("the forged answer ended the inspection: the real one would be missed")
	}
	d.ingress[ToClient] = IngressOutside
	d.send(ToClient, dnsA(7, "allowed.example", 1, "198.51.100.7"))

	names := map[string]string{}
	d.e.cfg.OnEnd = func(f *Flow, _ EndReason) {
		if f.Result.Master != ProtoDNS {
			names[f.Server().Addr().String()] = f.Result.Hostname
		}
	}
	for _, srv := range []string{"203.0.113.66:8443", "198.51.100.7:8443"} {
		c := newSim(t, IPProtoTCP, "10.0.0.1:40001", srv)
		c.e, c.now = d.e, d.now
		c.handshake()
		for i := range 3 {
			c.send(ToServer, []byte{0x17, 0x03, 0x03, 0x00, byte(i)})
		}
	}
	d.e.Flush()
	if n, ok := names["203.0.113.66"]; !ok || n != "" {
		t.Errorf("flow to the forged address: name %q (seen %v), want none", n, ok)
	}
	if n := names["198.51.100.7"]; n != "allowed.example" {
		t.Errorf("flow to the real address: name %q, want allowed.example", n)
	}
}

// DNS over TCP: two pipelined queries in one segment, their answers split
// across segments at odd places (inside a length prefix, inside a
// header); both answers teach, a forged third does not.
func TestDNSOverTCPPipelined(t *testing.T) {
	s := newSim(t, IPProtoTCP, "10.0.0.1:41000", "192.0.2.53:53").handshake()
	q1 := &dnsMsg{b: dnsQ(1, "a.example", 1)}
	q2 := &dnsMsg{b: dnsQ(2, "b.example", 1)}
	s.send(ToServer, append(append(q1.tcp(), q1.b...), append(q2.tcp(), q2.b...)...))
	a1 := &dnsMsg{b: dnsA(1, "a.example", 1, "198.51.100.1")}
	a2 := &dnsMsg{b: dnsA(2, "b.example", 1, "198.51.100.2")}
	forged := &dnsMsg{b: dnsA(3, "c.example", 1, "198.51.100.3")}
	stream := append(append(append(forged.tcp(), forged.b...), append(a1.tcp(), a1.b...)...), append(a2.tcp(), a2.b...)...)
	cut1 := len(forged.b) + 3    // inside a1's header
	cut2 := cut1 + len(a1.b) + 0 // a2's length prefix split: one byte here
	for _, part := range [][]byte{stream[:1], stream[1:cut1], stream[cut1:cut2], stream[cut2:]} {
		s.send(ToClient, part)
	}
	for addr, want := range map[string]string{"198.51.100.1": "a.example", "198.51.100.2": "b.example", "198.51.100.3": ""} {
		got, _ := s.e.dns.Get(netip.MustParseAddr(addr))
		if got != want {
			t.Errorf("%s: cache %q, want %q", addr, got, want)
		}
	}
}

// The pending-query pool is bounded: past Config.DNSPending, a query is
// not recorded (counted) and its answer teaches nothing.
func TestDNSPendingBounded(t *testing.T) {
	e := NewEngine(Config{DNSPending: 1})
	flows := make([]*sim, 2)
	for i := range flows {
		s := newSim(t, IPProtoUDP, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(53000+i)).String(), "192.0.2.53:53")
		s.e = e
		s.send(ToServer, dnsQ(9, "x.example", 1))
		flows[i] = s
	}
	if n := e.Stats().DNSPendingExhausted; n != 1 {
		t.Errorf("DNSPendingExhausted %d, want 1", n)
	}
	flows[1].send(ToClient, dnsA(9, "x.example", 1, "198.51.100.9"))
	if _, ok := e.dns.Get(netip.MustParseAddr("198.51.100.9")); ok {
		t.Error("the answer to an unrecorded query taught the cache")
	}
	flows[0].send(ToClient, dnsA(9, "x.example", 1, "198.51.100.8"))
	if _, ok := e.dns.Get(netip.MustParseAddr("198.51.100.8")); !ok {
		t.Error("the answer to the recorded query taught nothing")
	}
	if e.dnsOut != 0 || len(e.dnsFree) != 1 {
		t.Errorf("pool: %d out, %d free after both flows were decided", e.dnsOut, len(e.dnsFree))
	}
}

// FuzzDNSDissector drives DNS over UDP and TCP through the engine: the
// input is cut into payloads; each payload's first byte picks its
// direction and the gateway side it enters from. Whatever the bytes, the
// pools come back, and nothing is learned from a flow whose client sent
// nothing.
func FuzzDNSDissector(f *testing.F) {
	q := &dnsMsg{b: dnsQ(5, "www.example.com", 1)}
	a := &dnsMsg{b: dnsA(5, "www.example.com", 1, "198.51.100.5")}
	tq, ta := append(q.tcp(), q.b...), append(a.tcp(), a.b...)
	f.Add(false, joinPayloads(append([]byte{0x10}, q.b...), append([]byte{0x21}, a.b...)))
	f.Add(true, joinPayloads(append([]byte{0x10}, tq[:5]...), append([]byte{0x10}, tq[5:]...), append([]byte{0x21}, ta[:1]...), append([]byte{0x21}, ta[1:]...)))
	f.Add(true, joinPayloads(append([]byte{0x10}, append(tq, tq...)...), append([]byte{0x21}, append(ta, ta...)...)))
	f.Fuzz(func(t *testing.T, tcp bool, b []byte) {
		proto := uint8(IPProtoUDP)
		if tcp {
			proto = IPProtoTCP
		}
		s := fuzzSim(t, proto, "10.0.0.1:40000", "192.0.2.53:53")
		s.e.cfg.DNSPending = 2
		if tcp {
			s.handshake()
		}
		clientSent := false
		for _, p := range splitPayloads(b) {
			if len(p) == 0 {
				continue
			}
			d := Dir(p[0] & 1)
			s.ingress[d] = Ingress(p[0] >> 4 % 3)
			if d == ToServer && len(p) > 1 {
				clientSent = true
			}
			s.send(d, p[1:])
		}
		s.e.Flush()
		if s.e.streamsOut != 0 || s.e.dnsOut != 0 {
			t.Fatalf("%d stream buffers, %d DNS query records not returned", s.e.streamsOut, s.e.dnsOut)
		}
		if len(s.e.dnsPool) > 2 {
			t.Fatalf("DNS pool grew to %d, bound 2", len(s.e.dnsPool))
		}
		if _, ok := s.e.dns.Get(netip.MustParseAddr("198.51.100.5")); ok && !clientSent {
			t.Fatal("the cache learned from a flow whose client sent nothing")
		}
	})
}
