package policy

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"ips/dpi"
	"ips/verdict"
)

// dnsMessage is a DNS query (RFC 1035 §4.1) for name's A record or, with
// a valid answer address, its response giving that address.
func dnsMessage(id uint16, name string, answer netip.Addr) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	if answer.IsValid() {
		b = append(b, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0)
	} else {
		b = append(b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	}
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	b = append(b, 0, 0, 1, 0, 1)
	if answer.IsValid() {
		a4 := answer.As4()
		b = append(b, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		b = append(b, a4[:]...)
	}
	return b
}

// TestWorkerHoldsDNSForItsAnswer: a DNS query that the policy can pass on
// the query alone stays provisional (queued) until its answer, so the
// answer teaches the name cache and a later nameless flow to the address
// is judged by the name; a dropped query is final at once (no answer will
// come), and a query whose answer never comes is final after the DNS
// dissector's packet budget.
func TestWorkerHoldsDNSForItsAnswer(t *testing.T) {
	s := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {"hostnames": {"blocked.example": "drop"}}}]}`, LoadOptions{})
	const cli, resolver, server = "192.168.1.10", "8.8.8.8", "7.1.1.1"
	srv := netip.MustParseAddr(server)
	query := func(sport uint16, id uint16, name string) []byte {
		return ipPacket(cli, resolver, dpi.IPProtoUDP, udpDgram(sport, 53, dnsMessage(id, name, netip.Addr{})))
	}
	answer := func(sport uint16, id uint16, name string) []byte {
		return ipPacket(resolver, cli, dpi.IPProtoUDP, udpDgram(53, sport, dnsMessage(id, name, srv)))
	}
	// nameless is a TCP flow to the server on port 443 that never shows
	// a name (no TLS): the engine gives up on it after its budget and
	// names it from the cache. It returns the final decision.
	nameless := func(r *workerRig, sport uint16) verdict.Decision {
		out := func(flags uint8, p []byte) []byte {
			return ipPacket(cli, server, dpi.IPProtoTCP, tcpSeg(sport, 443, flags, p))
		}
		in := func(flags uint8, p []byte) []byte {
			return ipPacket(server, cli, dpi.IPProtoTCP, tcpSeg(443, sport, flags, p))
		}
		pkts := [][]byte{out(dpi.TCPSyn, nil), in(dpi.TCPSyn|dpi.TCPAck, nil), out(dpi.TCPAck, nil)}
		for i := 0; i < 12; i++ {
			pkts = append(pkts, out(dpi.TCPPsh|dpi.TCPAck, []byte{0xde, 0xad, byte(i)}))
		}
		var d verdict.Decision
		for _, p := range pkts {
			if d = r.send(p, verdict.SideUnknown); d.Final {
				return d
			}
		}
		t.Fatalf("nameless flow not final after %d packets: %+v", len(pkts), d)
		return d
	}

	t.Run("allowed query held until its answer", func(t *testing.T) {
		r := newRig(t, s, WorkerConfig{Engine: dpi.Config{DNSCache: dpi.NewDNSCache(64)}})
		d := r.send(query(41053, 0x1111, "ok.example"), verdict.SideLAN)
		if d.Action != verdict.Pass || d.Final {
			t.Fatalf("query: %+v, want a provisional pass (held for the answer)", d)
		}
		if st := r.w.Stats(); st.DNSHeld != 1 {
			t.Errorf("DNSHeld %d after the query, want 1", st.DNSHeld)
		}
		d = r.send(answer(41053, 0x1111, "ok.example"), verdict.SideWAN)
		if d.Action != verdict.Pass || !d.Final {
			t.Fatalf("answer: %+v, want a final pass", d)
		}
		if len(r.decided) != 1 {
			t.Errorf("Decided %d times, want once", len(r.decided))
		}
		if d := nameless(r, 40000); d.Action != verdict.Pass {
			t.Errorf("nameless flow to ok.example's address: %+v", d)
		}
		if st := r.w.Stats(); st.DNSHeld != 1 {
			t.Errorf("DNSHeld %d, want 1 (counted once per flow)", st.DNSHeld)
		}
	})

	t.Run("the answer names a later nameless flow", func(t *testing.T) {
		// The query for blocked.example from the kid would itself be
		// dropped by its name; another LAN host, under a pass-all policy,
		// asks instead: the learned name is shared, and names the kid's
		// nameless flow.
		s2 := mustParse(t, `{"version": 1, "pools": [{"name": "kid", "ip": ["192.168.1.10/32"], "policy": 1}],
		  "policies": [{"id": 0, "default_marker": "pass"},
		               {"id": 1, "parent": 0, "markers": {"hostnames": {"blocked.example": "drop"}}}]}`, LoadOptions{})
		r := newRig(t, s2, WorkerConfig{Engine: dpi.Config{DNSCache: dpi.NewDNSCache(64)}})
		asker := func(src, dst string, sp, dp uint16, m []byte) []byte {
			return ipPacket(src, dst, dpi.IPProtoUDP, udpDgram(sp, dp, m))
		}
		const other = "192.168.1.20"
		d := r.send(asker(other, resolver, 6000, 53, dnsMessage(0x2222, "blocked.example", netip.Addr{})), verdict.SideLAN)
		if d.Action != verdict.Pass || d.Final {
			t.Fatalf("query under a pass-all policy: %+v, want a provisional pass", d)
		}
		d = r.send(asker(resolver, other, 53, 6000, dnsMessage(0x2222, "blocked.example", srv)), verdict.SideWAN)
		if !d.Final {
			t.Fatalf("answer: %+v, want final", d)
		}
		if d := nameless(r, 40001); d.Action != verdict.Drop || !strings.Contains(d.Explain(), "blocked.example") {
			t.Errorf("nameless flow to blocked.example's address: %+v %q, want dropped by the learned name", d, d.Explain())
		}
	})

	t.Run("DNS over TCP held from the handshake to the answer", func(t *testing.T) {
		// Under a pass-all policy even the SYN could be passed for good.
		passAll := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass"}]}`, LoadOptions{})
		r := newRig(t, passAll, WorkerConfig{Engine: dpi.Config{DNSCache: dpi.NewDNSCache(64)}})
		// Sequence numbers as a stack sends them (the SYN counts one),
		// so the engine reads the streams in order.
		seq := [2]uint32{1000, 5000}
		seg := func(dir int, src, dst string, sp, dp uint16, flags uint8, p []byte) []byte {
			b := tcpSeg(sp, dp, flags, p)
			binary.BigEndian.PutUint32(b[4:], seq[dir])
			binary.BigEndian.PutUint32(b[8:], seq[1-dir])
			seq[dir] += uint32(len(p))
			if flags&dpi.TCPSyn != 0 {
				seq[dir]++
			}
			return ipPacket(src, dst, dpi.IPProtoTCP, b)
		}
		out := func(flags uint8, p []byte) []byte { return seg(0, cli, resolver, 42053, 53, flags, p) }
		in := func(flags uint8, p []byte) []byte { return seg(1, resolver, cli, 53, 42053, flags, p) }
		framed := func(m []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...) }
		steps := []struct {
			pkt  []byte
			from verdict.Side
		}{
			{out(dpi.TCPSyn, nil), verdict.SideLAN},
			{in(dpi.TCPSyn|dpi.TCPAck, nil), verdict.SideWAN},
			{out(dpi.TCPAck, nil), verdict.SideLAN},
			{out(dpi.TCPPsh|dpi.TCPAck, framed(dnsMessage(0x5555, "ok.example", netip.Addr{}))), verdict.SideLAN},
		}
		for i, st := range steps {
			if d := r.send(st.pkt, st.from); d.Action != verdict.Pass || d.Final {
				t.Fatalf("packet %d before the answer: %+v, want a provisional pass", i, d)
			}
		}
		d := r.send(in(dpi.TCPPsh|dpi.TCPAck, framed(dnsMessage(0x5555, "ok.example", srv))), verdict.SideWAN)
		if d.Action != verdict.Pass || !d.Final {
			t.Fatalf("answer: %+v, want a final pass", d)
		}
		if st := r.w.Stats(); st.DNSHeld != 1 {
			t.Errorf("DNSHeld %d, want 1", st.DNSHeld)
		}
	})

	t.Run("dropped query final at once", func(t *testing.T) {
		r := newRig(t, s, WorkerConfig{Engine: dpi.Config{DNSCache: dpi.NewDNSCache(64)}})
		d := r.send(query(41054, 0x3333, "blocked.example"), verdict.SideLAN)
		if d.Action != verdict.Drop || !d.Final {
			t.Fatalf("blocked query: %+v, want a final drop", d)
		}
		if st := r.w.Stats(); st.DNSHeld != 0 {
			t.Errorf("DNSHeld %d, want 0: a drop is not held", st.DNSHeld)
		}
	})

	t.Run("no answer: final after the packet budget", func(t *testing.T) {
		r := newRig(t, s, WorkerConfig{Engine: dpi.Config{DNSCache: dpi.NewDNSCache(64)}})
		final := -1
		for i := 0; i < 12; i++ {
			d := r.send(query(41055, 0x4444, "ok.example"), verdict.SideLAN) // retransmissions
			if d.Action != verdict.Pass {
				t.Fatalf("retransmission %d: %+v", i, d)
			}
			if d.Final && final < 0 {
				final = i
			}
			if !d.Final && final >= 0 {
				t.Fatalf("retransmission %d: a final decision went back to provisional", i)
			}
		}
		if final < 1 || final > 8 {
			t.Errorf("final at packet %d, want within the DNS wait budget", final)
		}
		t.Logf("an unanswered query was held for %d packets", final)
	})
}
