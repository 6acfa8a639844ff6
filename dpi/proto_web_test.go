package dpi

import (
	"net/netip"
	"testing"
)

// conversation is the packets of one flow, built once so that replaying
// it measures the engine alone.
type conversation [][]byte

type convStep struct {
	dir     Dir
	flags   uint8
	payload string
}

func buildConversation(proto uint8, cli, srv string, steps []convStep) conversation {
	c, s := netip.MustParseAddrPort(cli), netip.MustParseAddrPort(srv)
	seq := [2]uint32{1000, 5000}
	var out conversation
	for _, st := range steps {
		src, dst := c, s
		if st.dir == ToClient {
			src, dst = s, c
		}
		out = append(out, buildIP(nil, proto, src, dst, st.flags, seq[st.dir], seq[1-st.dir], []byte(st.payload)))
		n := uint32(len(st.payload))
		if st.flags&(TCPSyn|TCPFin) != 0 {
			n++
		}
		seq[st.dir] += n
	}
	return out
}

var (
	httpConversation = buildConversation(IPProtoTCP, "10.0.0.1:40000", "192.0.2.80:80", []convStep{
		{ToServer, TCPSyn, ""}, {ToClient, TCPSyn | TCPAck, ""}, {ToServer, TCPAck, ""},
		{ToServer, TCPPsh | TCPAck, httpGet}, {ToClient, TCPPsh | TCPAck, httpOK},
		{ToServer, TCPFin | TCPAck, ""}, {ToClient, TCPFin | TCPAck, ""},
	})
	dnsConversation = buildConversation(IPProtoUDP, "10.0.0.1:53000", "192.0.2.53:53", []convStep{
		{ToServer, 0, string(newDNSMsg(0x1d2e, dnsRD, 1, 0, 0, 0).question("www.youtube.com", 1).b)},
		{ToClient, 0, string(dnsAnswer(0x1d2e))},
	})
	sshConversation = buildConversation(IPProtoTCP, "10.0.0.1:50000", "192.0.2.22:22", []convStep{
		{ToServer, TCPSyn, ""}, {ToClient, TCPSyn | TCPAck, ""}, {ToServer, TCPAck, ""},
		{ToClient, TCPPsh | TCPAck, "SSH-2.0-OpenSSH_9.6\r\n"}, {ToServer, TCPPsh | TCPAck, "SSH-2.0-OpenSSH_9.7\r\n"},
	})
)

// replay runs a conversation through e and ends its flow.
func (c conversation) replay(tb testing.TB, e *Engine, p *Packet, now *int64) {
	for _, b := range c {
		if err := p.DecodeIP(b); err != nil {
			tb.Fatal(err)
		}
		*now += 1e6
		e.Process(p, *now)
	}
	e.Flush()
}

// TestWebFlowsAllocateNothing replays HTTP, DNS and SSH flows, from the
// handshake to the end of the flow, in an engine that has seen them
// before: classification, metadata, risks and the DNS cache cost no
// allocation in the steady state.
func TestWebFlowsAllocateNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		conv conversation
	}{
		{"http", httpConversation},
		{"dns", dnsConversation},
		{"ssh", sshConversation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			e := NewEngine(Config{OnEnd: func(f *Flow, _ EndReason) {
				if f.Result.State == Classified {
					got = "classified"
				}
			}})
			var p Packet
			now := int64(1_700_000_000e9)
			for range 3 {
				tc.conv.replay(t, e, &p, &now)
			}
			if got != "classified" {
				t.Fatal("the flow was not classified")
			}
			if n := testing.AllocsPerRun(200, func() { tc.conv.replay(t, e, &p, &now) }); n != 0 {
				t.Errorf("%v allocations per flow", n)
			}
		})
	}
	// And the names are the expected ones (checked apart, since OnEnd
	// above must not allocate).
	for _, tc := range []struct {
		conv conversation
		app  string
	}{{httpConversation, "HTTP.Google"}, {dnsConversation, "DNS.YouTube"}, {sshConversation, "SSH"}} {
		var name string
		e := NewEngine(Config{OnEnd: func(f *Flow, _ EndReason) { name = f.Result.AppName() }})
		var p Packet
		now := int64(0)
		tc.conv.replay(t, e, &p, &now)
		if name != tc.app {
			t.Errorf("got %s, want %s", name, tc.app)
		}
	}
}

func benchConversation(b *testing.B, c conversation) {
	e := NewEngine(Config{})
	var p Packet
	now := int64(1_700_000_000e9)
	c.replay(b, e, &p, &now)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.replay(b, e, &p, &now)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(c)), "ns/packet")
}

// Each iteration is a whole flow: decode, track, classify and end.
func BenchmarkHTTPFlow(b *testing.B) { benchConversation(b, httpConversation) }
func BenchmarkDNSFlow(b *testing.B)  { benchConversation(b, dnsConversation) }
func BenchmarkSSHFlow(b *testing.B)  { benchConversation(b, sshConversation) }

// FuzzWebDissectors feeds arbitrary payloads, in both directions and split
// at an arbitrary point, to flows on the ports of HTTP, DNS, mDNS, LLMNR
// and SSH: whatever the bytes, the dissectors must not panic and must
// keep their results within bounds.
func FuzzWebDissectors(f *testing.F) {
	f.Add(uint8(0), []byte(httpGet), []byte(httpOK), uint16(20))
	f.Add(uint8(1), newDNSMsg(1, dnsRD, 1, 0, 0, 0).question("www.youtube.com", 1).b, dnsAnswer(1), uint16(0))
	f.Add(uint8(2), append((&dnsMsg{b: dnsAnswer(1)}).tcp(), dnsAnswer(1)...), []byte{0, 12}, uint16(9))
	f.Add(uint8(3), []byte("SSH-2.0-OpenSSH_9.6\r\n"), []byte("x\r\nSSH-2.0-dropbear_2019.78\r\n"), uint16(5))
	f.Add(uint8(4), newDNSMsg(0, 0, 1, 0, 0, 0).question("_raop._tcp.local", 12).b, []byte(nil), uint16(0))
	targets := [...]struct {
		proto    uint8
		cli, srv string
	}{
		{IPProtoTCP, "10.0.0.1:40000", "192.0.2.1:80"},
		{IPProtoUDP, "10.0.0.1:40000", "192.0.2.1:53"},
		{IPProtoTCP, "10.0.0.1:40000", "192.0.2.1:53"},
		{IPProtoTCP, "10.0.0.1:40000", "192.0.2.1:22"},
		{IPProtoUDP, "10.0.0.1:5353", "224.0.0.251:5353"},
		{IPProtoUDP, "10.0.0.1:40000", "224.0.0.252:5355"},
	}
	// One small engine for every input: building one is far costlier than
	// a run, and each run ends its flows.
	e := NewEngine(Config{MaxFlows: 64, DNSCache: NewDNSCache(256)})
	f.Fuzz(func(t *testing.T, which uint8, req, resp []byte, split uint16) {
		tg := targets[int(which)%len(targets)]
		s := &sim{t: t, e: e, proto: tg.proto, now: 1_700_000_000e9, seq: [2]uint32{1000, 5000},
			cli: netip.MustParseAddrPort(tg.cli), srv: netip.MustParseAddrPort(tg.srv)}
		if tg.proto == IPProtoTCP {
			s.handshake()
		}
		cut := int(split) % (len(req) + 1)
		for _, part := range [][]byte{req[:cut], req[cut:]} {
			if len(part) > 0 {
				s.send(ToServer, part)
			}
		}
		if len(resp) > 0 {
			s.send(ToClient, resp)
		}
		f := s.send(ToServer, req)
		if r := f.Result; len(r.Hostname) > 300 || r.Meta != nil && r.Meta.NumAnswers > 4 {
			t.Fatalf("result out of bounds: %q %+v", r.Hostname, r.Meta)
		}
		s.e.Flush()
	})
}
