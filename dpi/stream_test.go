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

// TestStreamLimits: what the engine cannot follow is flagged, never passed
// as if inspected; what it can (large and finely split handshakes) is.
func TestStreamLimits(t *testing.T) {
	const name = "blocked.example"
	ch := tcpcraft.ClientHello(name, 0)
	type want struct {
		host          string
		uninspectable bool
		risk          RiskID
	}
	cases := []struct {
		name string
		cfg  Config
		pkts func(c *tcpcraft.Conn) [][]byte
		want want
	}{
		{"8 KB ClientHello in MSS segments", Config{}, func(c *tcpcraft.Conn) [][]byte {
			return segments(c, tcpcraft.ClientHello(name, 8000), 1448, false)
		}, want{host: name}},
		{"6 KB ClientHello in 100-byte segments", Config{}, func(c *tcpcraft.Conn) [][]byte {
			return segments(c, tcpcraft.ClientHello(name, 6000), 100, false)
		}, want{host: name}},
		{"8 KB ClientHello in 1-byte segments", Config{}, func(c *tcpcraft.Conn) [][]byte {
			return segments(c, tcpcraft.ClientHello(name, 8000), 1, false)
		}, want{host: name}},
		{"4 KB ClientHello, MSS segments in reverse", Config{}, func(c *tcpcraft.Conn) [][]byte {
			return segments(c, tcpcraft.ClientHello(name, 4000), 1448, true)
		}, want{host: name}},
		{"IPv6, decoy with a bad checksum", Config{}, func(c *tcpcraft.Conn) [][]byte {
			c6 := tcpcraft.New("[2001:db8::2]:40000", "[2001:db8:1::7]:443")
			*c = *c6
			d := c.Data(tcpcraft.ToServer, 0, tcpcraft.ClientHello("allowed.example", 0))
			d.BadSum = true
			return append(c.Handshake(), c.Build(d), c.Build(c.Data(tcpcraft.ToServer, 0, ch)))
		}, want{host: name}},
		{"overlap with different bytes", Config{}, func(c *tcpcraft.Conn) [][]byte {
			decoy := tcpcraft.ClientHello("allowed.example", 0)
			return append(c.Handshake(), c.Build(c.Data(tcpcraft.ToServer, 5, decoy[5:])), c.Build(c.Data(tcpcraft.ToServer, 0, ch)))
		}, want{host: name, risk: RiskTCPIssues}},
		{"budget spent with a hole open", Config{}, func(c *tcpcraft.Conn) [][]byte {
			out := c.Handshake()
			for range 12 { // the same held segment again and again
				out = append(out, c.Build(c.Data(tcpcraft.ToServer, 1, ch[1:])))
			}
			return out
		}, want{uninspectable: true, risk: RiskObfuscatedTraffic}},
		{"too many holes", Config{}, func(c *tcpcraft.Conn) [][]byte {
			out := c.Handshake()
			for i := 2; i < 2*(holdSegs+4); i += 2 {
				out = append(out, c.Build(c.Data(tcpcraft.ToServer, uint32(i), ch[i:i+1])))
			}
			return append(out, c.Build(c.Data(tcpcraft.ToServer, 0, ch)))
		}, want{uninspectable: true, risk: RiskObfuscatedTraffic}},
		{"held beyond the reassembly buffer", Config{StreamBytes: 4096}, func(c *tcpcraft.Conn) [][]byte {
			return append(c.Handshake(), c.Build(c.Data(tcpcraft.ToServer, 5000, ch[1:])), c.Build(c.Data(tcpcraft.ToServer, 0, ch)))
		}, want{uninspectable: true, risk: RiskObfuscatedTraffic}},
		{"ClientHello larger than the reassembly buffer", Config{StreamBytes: 4096}, func(c *tcpcraft.Conn) [][]byte {
			return segments(c, tcpcraft.ClientHello(name, 6000), 1448, false)
		}, want{uninspectable: true, risk: RiskObfuscatedTraffic}},
		{"reassembly pool exhausted", Config{MaxStreams: 1}, func(c *tcpcraft.Conn) [][]byte {
			// One buffer: the hold takes it, the ClientHello cannot be
			// gathered once the hole fills... but it is delivered whole.
			return append(c.Handshake(), c.Build(c.Data(tcpcraft.ToServer, 600, []byte{1})), c.Build(c.Data(tcpcraft.ToServer, 0, ch)))
		}, want{host: name}},
		{"low-TTL segment the server acknowledges", Config{}, func(c *tcpcraft.Conn) [][]byte {
			// Ignored as a likely TTL decoy, but the server read it.
			d := c.Data(tcpcraft.ToServer, 0, ch)
			d.TTL = 20
			return append(c.Handshake(), c.Build(d), c.PureAt(tcpcraft.ToClient, 0, uint32(len(ch))))
		}, want{uninspectable: true, risk: RiskObfuscatedTraffic}},
		{"server data with another TTL than its SYN-ACK", Config{}, func(c *tcpcraft.Conn) [][]byte {
			// A SYN proxy answered the SYN; the server's data has fewer
			// hops left. It is read all the same (not flagged lost when
			// the client acknowledges it; TLS is ruled out by the banner).
			sa := c.Build(tcpcraft.Seg{Dir: tcpcraft.ToClient, Flags: tcpcraft.SYN | tcpcraft.ACK, Seq: c.ISN[1], Ack: c.ISN[0] + 1, Window: 65160, WScale: 7, TTL: 255})
			banner := c.Data(tcpcraft.ToClient, 0, []byte("hello from the server\r\n"))
			banner.TTL = 50
			return [][]byte{c.Syn(nil), sa, c.Pure(tcpcraft.ToServer), c.Build(banner),
				c.PureAt(tcpcraft.ToServer, 0, uint32(len(banner.Payload))), c.Build(c.Data(tcpcraft.ToServer, 0, ch))}
		}, want{}},
		{"TCP Fast Open data taken by the server", Config{}, func(c *tcpcraft.Conn) [][]byte {
			syn := c.Syn(ch)
			sa := c.Build(tcpcraft.Seg{Dir: tcpcraft.ToClient, Flags: tcpcraft.SYN | tcpcraft.ACK, Seq: c.ISN[1], Ack: c.ISN[0] + 1 + uint32(len(ch)), Window: 65160, WScale: 7})
			return [][]byte{syn, sa}
		}, want{uninspectable: true, risk: RiskObfuscatedTraffic}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tcpcraft.New("10.0.0.2:40000", "192.0.2.7:443")
			r, st := replayConn(t, tc.cfg, tc.pkts(c))
			if r.Hostname != tc.want.host || r.Uninspectable != tc.want.uninspectable {
				t.Errorf("hostname %q uninspectable %v, want %q %v; %s %v; stats %+v", r.Hostname, r.Uninspectable, tc.want.host, tc.want.uninspectable, r.AppName(), r.State, st)
			}
			if tc.want.risk != 0 && !r.Risks.Has(tc.want.risk) {
				t.Errorf("risks %v, want %v", r.Risks.AppendNames(nil), tc.want.risk)
			}
			if tc.want.risk != RiskTCPIssues && r.Risks.Has(RiskTCPIssues) {
				t.Errorf("risk %v without an overlap", RiskTCPIssues)
			}
		})
	}
}

// segments sends msg after the handshake in pieces of n bytes (reversed:
// last piece first), with the server's ACK after every second piece.
func segments(c *tcpcraft.Conn, msg []byte, n int, reversed bool) [][]byte {
	out := c.Handshake()
	var offs []int
	for off := 0; off < len(msg); off += n {
		offs = append(offs, off)
	}
	if reversed {
		for i, j := 0, len(offs)-1; i < j; i, j = i+1, j-1 {
			offs[i], offs[j] = offs[j], offs[i]
		}
	}
	for i, off := range offs {
		end := min(off+n, len(msg))
		out = append(out, c.Build(c.Data(tcpcraft.ToServer, uint32(off), msg[off:end])))
		if i%2 == 1 && !reversed {
			out = append(out, c.PureAt(tcpcraft.ToClient, 0, uint32(end)))
		}
	}
	return out
}

// TestChecksum checks the engine's checksum against the plain RFC 1071
// computation for IPv4 and IPv6 segments of every length up to 200.
func TestChecksum(t *testing.T) {
	for _, addrs := range [][2]string{{"10.0.0.2:40000", "192.0.2.7:443"}, {"[2001:db8::2]:40000", "[2001:db8:1::7]:443"}} {
		c := tcpcraft.New(addrs[0], addrs[1])
		payload := make([]byte, 200)
		for i := range payload {
			payload[i] = byte(i*31 + 0xf0)
		}
		var p Packet
		for n := 0; n <= len(payload); n++ {
			for _, bad := range []bool{false, true} {
				s := c.Data(tcpcraft.ToServer, 0, payload[:n])
				s.BadSum = bad
				if err := p.DecodeIP(c.Build(s)); err != nil {
					t.Fatal(err)
				}
				if got := tcpChecksumOK(&p); got != !bad {
					t.Fatalf("%s, %d bytes, corrupted %v: checksum ok %v", addrs[0], n, bad, got)
				}
			}
		}
	}
}

// TestStreamRST: a RST at exactly rcv_nxt closes the connection (data
// after it is not inspected, and a new SYN on the same ports starts a new
// flow); one elsewhere in the window is ignored (RFC 5961).
func TestStreamRST(t *testing.T) {
	ch := tcpcraft.ClientHello("blocked.example", 0)
	for _, tc := range []struct {
		name  string
		off   uint32
		flows int
		host  string
	}{
		{"exact", 0, 2, ""},
		{"in window", 100, 1, "blocked.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tcpcraft.New("10.0.0.2:40000", "192.0.2.7:443")
			r := c.Data(tcpcraft.ToServer, tc.off, nil)
			r.Flags = tcpcraft.RST | tcpcraft.ACK
			pkts := append(c.Handshake(), c.Build(r), c.Build(c.Data(tcpcraft.ToServer, 0, ch)))
			pkts = append(pkts, c.Syn(nil)) // a new connection attempt on the same ports
			var res []Result
			e := NewEngine(Config{OnEnd: func(f *Flow, _ EndReason) { res = append(res, f.Result) }})
			var p Packet
			now := int64(1_700_000_000e9)
			for _, b := range pkts {
				if err := p.DecodeIP(b); err != nil {
					t.Fatal(err)
				}
				p.Checksum = ChecksumUnverified
				now += 1e6
				e.Process(&p, now)
			}
			e.Flush()
			if len(res) != tc.flows || res[0].Hostname != tc.host {
				t.Errorf("%d flows, first named %q; want %d, %q", len(res), res[0].Hostname, tc.flows, tc.host)
			}
		})
	}
}
