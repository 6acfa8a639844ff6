package dpi

import (
	"testing"
	"unsafe"
)

func TestDNSCrypt(t *testing.T) {
	// Client query: client magic, public key, nonce half, padded query.
	query := cat(fill(8, 0xe3), fill(32, 0x10), fill(12, 0x20), fill(1036, 0x30))
	// Resolver answer: resolver magic, nonce, authenticated answer.
	answer := cat([]byte(dnscryptResolverMagic), fill(24, 0x40), fill(208, 0x50))
	cases := []struct {
		name  string
		proto uint8
		pkts  []pkt
		named bool
	}{
		{"UDP query and answer", IPProtoUDP, []pkt{c2s(query), s2c(answer)}, true},
		{"answer alone", IPProtoUDP, []pkt{s2c(answer)}, true},
		{"short query", IPProtoUDP, []pkt{c2s(query[:100]), s2c(answer)}, false},
		{"answer without the magic", IPProtoUDP, []pkt{c2s(query), s2c(fill(240, 1))}, false},
		{"TCP with length prefixes", IPProtoTCP, []pkt{c2s(cat(u16(uint16(len(query[:200]))), query[:200])), s2c(cat(u16(uint16(len(answer))), answer))}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := play(t, c.proto, "127.0.0.1:38650", "127.0.0.2:5353", c.pkts...)
			if got := r.Master == ProtoDNScrypt; got != c.named {
				t.Errorf("named DNScrypt: %v, want %v (%s)", got, c.named, r.AppName())
			}
		})
	}
}

func TestSmallVPNSignatures(t *testing.T) {
	disco := cat([]byte(tailscaleDiscoMagic), fill(32, 1), fill(24, 2), fill(30, 3))
	cases := []struct {
		name     string
		proto    uint8
		cli, srv string
		pkts     []pkt
		app      string
	}{
		{"Tailscale disco", IPProtoUDP, "192.168.88.3:41641", "18.196.71.179:41641", []pkt{c2s(disco)}, "Tailscale"},
		{"Tailscale magic on a short packet", IPProtoUDP, "192.168.88.3:41641", "18.196.71.179:41641", []pkt{c2s(disco[:40])}, ""},
		{"UltraSurf", IPProtoTCP, "10.132.0.23:37898", "65.49.68.25:50053", []pkt{s2c(cat([]byte(ultrasurfMagic), fill(100, 1)))}, "UltraSurf"},
		{"CiscoVPN", IPProtoUDP, "10.0.0.1:10000", "10.0.0.2:10000", []pkt{c2s(cat(u32(0xfe577e2b), fill(40, 1)))}, "CiscoVPN"},
		{"CiscoVPN marker on other ports", IPProtoUDP, "10.0.0.1:10001", "10.0.0.2:10000", []pkt{c2s(cat(u32(0xfe577e2b), fill(40, 1)))}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := play(t, c.proto, c.cli, c.srv, c.pkts...)
			if c.app == "" {
				if r.Confidence == ConfDPI {
					t.Errorf("named %s", r.AppName())
				}
				return
			}
			wantApp(t, r, c.app)
		})
	}
}

func TestP2PCatalog(t *testing.T) {
	cat := DefaultCatalog()
	cases := map[string]ProtoID{
		"eu0.sec-tunnel.com":            ProtoOperaVPN,
		"dns.google":                    ProtoDoHDoT,
		"dns.google.com":                ProtoDoHDoT, // more specific than google.com
		"mozilla.cloudflare-dns.com":    ProtoDoHDoT,
		"vpn-api.proton.me":             ProtoProtonVPN,
		"www.mullvad.net":               ProtoMullvad,
		"doh.mullvad.net":               ProtoDoHDoT,
		"utorrent.com":                  ProtoBitTorrent,
		"api.nordvpn.com":               ProtoNordVPN,
		"www.privateinternetaccess.com": ProtoPrivateInternetAccess,
	}
	for host, want := range cases {
		en, ok := cat.Host(host)
		if !ok || en.App != want {
			t.Errorf("%s: %v, %v; want %v", host, en.App, ok, want)
		}
	}
	for _, host := range []string{"proton.me", "mail.proton.me", "notsec-tunnel.com", "www.google.com"} {
		if en, ok := cat.Host(host); ok && (en.App == ProtoProtonVPN || en.App == ProtoOperaVPN || en.App == ProtoDoHDoT) {
			t.Errorf("%s matched %v", host, en.App)
		}
	}
}

// The family's per-flow state lives in every inspected flow's scratch.
func TestP2PStateSmall(t *testing.T) {
	if n := unsafe.Sizeof(p2pState{}); n > 80 {
		t.Errorf("p2pState is %d bytes", n)
	}
}

// FuzzP2PFlow plays arbitrary payloads through the engine on the ports
// this family's dissectors care about: no input may panic them.
func FuzzP2PFlow(f *testing.F) {
	seeds := [][]byte{
		btHandshakeMsg(),
		[]byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"),
		[]byte("GNUTELLA CONNECT/0.6\r\n\r\n"),
		wgInit(7), wgData(7, 1, 32),
		ovpnPkt(ovpnHardResetClientV2, ovpnCliSID, 0, nil, nil, 0, nil),
		ikeMsg(1, 0, 33, 0x20, 34, 8, 0, fill(10, 1)),
		pptpSCCRQ(), {5, 1, 0}, {4, 1, 0, 80, 1, 2, 3, 4, 0},
		[]byte(dnscryptResolverMagic + "0123456789012345678901234567890123456789"),
	}
	for i, s := range seeds {
		f.Add(s, uint8(i), uint8(i*7))
	}
	ports := []string{"6881", "51413", "6771", "1194", "500", "4500", "51820", "41641", "1723", "1080", "443", "10000", "53"}
	f.Fuzz(func(t *testing.T, data []byte, sel, split uint8) {
		proto := uint8(IPProtoUDP)
		if sel&1 != 0 {
			proto = IPProtoTCP
		}
		port := ports[int(sel>>1)%len(ports)]
		s := newSim(t, proto, "10.0.0.1:"+port, "10.0.0.2:"+port)
		if proto == IPProtoTCP {
			s.handshake()
		}
		// Cut the input into packets alternating direction at split.
		n := int(split%64) + 1
		for i, d := 0, ToServer; i < len(data); i, d = i+n, 1-d {
			end := min(i+n, len(data))
			s.send(d, data[i:end])
		}
		s.send(ToServer, data)
		s.send(ToClient, data)
		s.e.Flush()
	})
}

// BenchmarkP2PFlows replays a mix of this family's flows (and an unknown
// UDP flow every dissector has to rule out) through one engine.
func BenchmarkP2PFlows(b *testing.B) {
	type flow struct {
		proto    uint8
		cli, srv string
		pkts     []pkt
	}
	flows := []flow{
		{IPProtoTCP, "192.168.1.3:52915", "198.100.146.9:60163", []pkt{c2s(btHandshakeMsg()), s2c(btHandshakeMsg())}},
		{IPProtoUDP, "10.0.0.1:6881", "10.0.0.2:41000", []pkt{c2s([]byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"))}},
		{IPProtoUDP, "10.9.0.1:43462", "10.9.0.2:51820", []pkt{c2s(wgInit(1)), s2c(wgResp(2, 1))}},
		{IPProtoUDP, "192.168.75.18:60201", "166.161.181.18:1194", []pkt{
			c2s(ovpnPkt(ovpnHardResetClientV2, ovpnCliSID, 0, nil, nil, 0, nil)),
			s2c(ovpnPkt(ovpnHardResetServerV2, ovpnSrvSID, 0, []uint32{0}, ovpnCliSID, 0, nil))}},
		{IPProtoUDP, "10.1.0.1:40000", "10.1.0.2:40001", []pkt{c2s(fill(300, 1)), s2c(fill(120, 2)), c2s(fill(300, 3)), s2c(fill(80, 4))}},
	}
	var bufs [][]byte
	for _, f := range flows {
		s := newSim(b, f.proto, f.cli, f.srv)
		add := func(d Dir, flags uint8, payload []byte) {
			src, dst := s.cli, s.srv
			if d == ToClient {
				src, dst = dst, src
			}
			bufs = append(bufs, buildIP(nil, f.proto, src, dst, flags, s.seq[d], s.seq[1-d], payload))
			n := uint32(len(payload))
			if flags&TCPSyn != 0 {
				n++
			}
			s.seq[d] += n
		}
		if f.proto == IPProtoTCP {
			add(ToServer, TCPSyn, nil)
			add(ToClient, TCPSyn|TCPAck, nil)
			add(ToServer, TCPAck, nil)
		}
		for _, p := range f.pkts {
			flags := uint8(0)
			if f.proto == IPProtoTCP {
				flags = TCPPsh | TCPAck
			}
			add(p.d, flags, p.b)
		}
	}
	e := NewEngine(Config{})
	var pk Packet
	now := int64(1_700_000_000e9)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, buf := range bufs {
			if err := pk.DecodeIP(buf); err != nil {
				b.Fatal(err)
			}
			now += 1e3
			e.Process(&pk, now)
		}
		e.Flush()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bufs)), "ns/pkt")
}
