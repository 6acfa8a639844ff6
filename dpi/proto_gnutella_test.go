package dpi

import "testing"

// gnutellaHeader is the 23-byte Gnutella 0.6 message header: GUID,
// function, TTL, hops, little-endian payload length.
func gnutellaHeader(fn byte, ttl byte, n int) []byte {
	return cat(fill(16, 0x61), []byte{fn, ttl, 0}, u32le(uint32(n)))
}

func TestGnutella(t *testing.T) {
	connect := []byte("GNUTELLA CONNECT/0.6\r\nUser-Agent: gtk-gnutella/1.2.2 (2022-02-25)\r\nX-Ultrapeer: False\r\n\r\n")
	ok := []byte("GNUTELLA/0.6 200 OK\r\nUser-Agent: Shareaza 2.7.10.2\r\n\r\n")
	g2 := cat([]byte("GND\x10"), u16(0x3e8f), []byte{1, 1}, []byte("T\x0bQKRP\x06RNA]/\xe25\tp"))
	g2ack := cat([]byte("GND\x00"), u16(0x3e8f), []byte{1, 0})
	// Mojito DHT inside a Gnutella message: opcode FIND_NODE_REQUEST (5),
	// vendor GTKG, version 0.0, then the contact.
	mojitoBody := cat([]byte{5}, []byte("GTKG"), []byte{0, 0}, fill(51, 7))
	mojitoMsg := cat(gnutellaHeader(0x44, 0, len(mojitoBody)), mojitoBody)
	// A ping over UDP with a GGEP "QK" request: GUID-shaped, nothing more.
	qkBody := []byte{0xc3, 0x82, 'Q', 'K', 0x40}
	qkPing := cat(gnutellaHeader(0x00, 1, len(qkBody)), qkBody)
	badLen := cat(gnutellaHeader(0x44, 0, len(mojitoBody)+1), mojitoBody)

	cases := []struct {
		name  string
		proto uint8
		pkts  []pkt
		named bool
	}{
		{"0.6 handshake", IPProtoTCP, []pkt{c2s(connect)}, true},
		{"servent answer first", IPProtoTCP, []pkt{s2c(ok)}, true},
		{"HTTP is not Gnutella", IPProtoTCP, []pkt{c2s([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))}, false},
		{"G2 datagram", IPProtoUDP, []pkt{c2s(g2)}, true},
		{"G2 acknowledgement", IPProtoUDP, []pkt{c2s(g2ack)}, true},
		{"G2 with unknown flags", IPProtoUDP, []pkt{c2s(cat([]byte("GND\x80"), g2[4:]))}, false},
		{"Mojito DHT (gtk-gnutella)", IPProtoUDP, []pkt{c2s(mojitoMsg)}, true},
		{"Mojito with a wrong length", IPProtoUDP, []pkt{c2s(badLen)}, false},
		{"UDP ping with QK (nDPI: Unknown)", IPProtoUDP, []pkt{c2s(qkPing)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := play(t, c.proto, "10.0.2.15:28681", "80.61.221.246:30577", c.pkts...)
			if got := r.Master == ProtoGnutella; got != c.named {
				t.Errorf("named Gnutella: %v, want %v (%s)", got, c.named, r.AppName())
			}
		})
	}
	r := play(t, IPProtoTCP, "10.0.2.15:50284", "104.156.226.72:53258", c2s(connect))
	if r.UserAgent != "gtk-gnutella/1.2.2 (2022-02-25)" {
		t.Errorf("user agent %q", r.UserAgent)
	}
	if n := allocsPerFlow(t, IPProtoTCP, "10.0.2.15:50284", "104.156.226.72:53258", c2s(connect)); n != 0 {
		t.Errorf("%v allocs per flow", n)
	}
	if n := allocsPerFlow(t, IPProtoUDP, "10.0.2.15:28681", "80.61.221.246:30577", c2s(mojitoMsg)); n != 0 {
		t.Errorf("%v allocs per flow", n)
	}
}

func FuzzGnutellaParsers(f *testing.F) {
	f.Add([]byte("GND\x10\x3e\x8f\x01\x01T"))
	f.Add([]byte("GNUTELLA CONNECT/0.6\r\nUser-Agent: x\r\n\r\n"))
	f.Add(cat(gnutellaHeader(0x44, 0, 7), []byte{5, 'G', 'T', 'K', 'G', 0, 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		gnutella2(b)
		mojito(b)
		if v := httpHeader(b, "user-agent:"); len(v) > len(b) {
			t.Fatal("header longer than its packet")
		}
	})
}

func TestGnutellaHTTPRequest(t *testing.T) {
	cases := []struct {
		path, ua string
		want     bool
	}{
		{"/uri-res/N2R?urn:sha1:LXIP2A72T5H3BU3GRUMZFYNU3OYDK6FI", "gtk-gnutella/1.2.2", true},
		{"/gnutella/thex/v1?urn:tree:tiger/:3WMUS6WM2ZC7XIPRQDKXWHHJRV4IKYC4OX4ELCA&depth=9", "Shareaza 2.7.10.2", true},
		{"/get/12/song.mp3", "LimeWire/5.5.16", true},
		{"/get/12/song.mp3", "Mozilla/5.0", false},
		{"/index.html", "gtk-gnutella/1.2.2", false},
	}
	for _, c := range cases {
		if got := gnutellaHTTPRequest([]byte(c.path), []byte(c.ua)); got != c.want {
			t.Errorf("%s (%s): %v", c.path, c.ua, got)
		}
	}
}

func TestGnutellaHTTPFallback(t *testing.T) {
	req := []byte("GET /uri-res/N2R?urn:sha1:LXIP2A72T5H3BU3GRUMZFYNU3OYDK6FI HTTP/1.1\r\n" +
		"Host: 69.118.162.229:46906\r\nUser-Agent: gtk-gnutella/1.2.2\r\nRange: bytes=0-\r\n\r\n")
	r := play(t, IPProtoTCP, "10.0.2.15:50327", "69.118.162.229:46906", c2s(req))
	if r.Master == ProtoGnutella || r.App == ProtoGnutella {
		// Named by this family (the HTTP dissector may have named it first).
		if r.App == ProtoGnutella && r.Master == ProtoHTTP && r.Hostname != "69.118.162.229" {
			t.Errorf("hostname %q", r.Hostname)
		}
	} else {
		t.Errorf("a Gnutella download is %s", r.AppName())
	}
	r = play(t, IPProtoTCP, "10.0.2.15:50327", "69.118.162.229:46906", c2s([]byte("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")))
	if r.App == ProtoGnutella {
		t.Error("a plain web request was named Gnutella")
	}
}
