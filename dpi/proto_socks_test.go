package dpi

import "testing"

func TestSOCKS(t *testing.T) {
	cases := []struct {
		name  string
		pkts  []pkt
		named bool
	}{
		// RFC 1928 §3: two methods offered (none, user/password); the
		// server picks "none".
		{"SOCKS5 method selection", []pkt{c2s([]byte{5, 2, 0, 1}), s2c([]byte{5, 0})}, true},
		{"SOCKS5 refusal", []pkt{c2s([]byte{5, 1, 2}), s2c([]byte{5, 0xff})}, true},
		{"SOCKS5 server picks a method not offered", []pkt{c2s([]byte{5, 1, 0}), s2c([]byte{5, 2})}, false},
		{"SOCKS5 method count does not fit", []pkt{c2s([]byte{5, 3, 0, 1}), s2c([]byte{5, 0})}, false},
		// §4/§6: CONNECT to 142.250.180.142:443, reply succeeded.
		{"SOCKS5 request and reply", []pkt{
			c2s([]byte{5, 1, 0, 1, 142, 250, 180, 142, 1, 187}),
			s2c([]byte{5, 0, 0, 1, 127, 0, 0, 1, 4, 56}),
		}, true},
		{"SOCKS5 domain request", []pkt{
			c2s(cat([]byte{5, 1, 0, 3, 15}, []byte("www.youtube.com"), u16(443))),
			s2c([]byte{5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90}),
		}, true},
		// SOCKS4: CONNECT 198.51.100.7:80 as "fred"; granted.
		{"SOCKS4", []pkt{c2s(cat([]byte{4, 1}, u16(80), []byte{198, 51, 100, 7}, []byte("fred\x00"))), s2c([]byte{0, 90, 0, 0, 0, 0, 0, 0})}, true},
		{"SOCKS4a", []pkt{c2s(cat([]byte{4, 1}, u16(80), []byte{0, 0, 0, 1}, []byte("fred\x00example.com\x00"))), s2c([]byte{0, 91, 0, 0, 0, 0, 0, 0})}, true},
		{"SOCKS4 without the terminating zero", []pkt{c2s(cat([]byte{4, 1}, u16(80), []byte{198, 51, 100, 7}, []byte("fred"))), s2c([]byte{0, 90, 0, 0, 0, 0, 0, 0})}, false},
		{"greeting without an answer", []pkt{c2s([]byte{5, 1, 0}), c2s([]byte{5, 1, 0, 1, 1, 2, 3, 4, 0, 80})}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := play(t, IPProtoTCP, "127.0.0.1:44532", "127.0.0.1:1080", c.pkts...)
			if got := r.Master == ProtoSOCKS && r.Confidence == ConfDPI; got != c.named {
				t.Errorf("named SOCKS: %v, want %v (%s)", got, c.named, r.AppName())
			}
		})
	}
	if n := allocsPerFlow(t, IPProtoTCP, "127.0.0.1:44532", "127.0.0.1:1080", c2s([]byte{5, 2, 0, 1}), s2c([]byte{5, 0})); n != 0 {
		t.Errorf("%v allocs per flow", n)
	}
}

func FuzzSOCKSParsers(f *testing.F) {
	f.Add([]byte{5, 2, 0, 1})
	f.Add([]byte{4, 1, 0, 80, 1, 2, 3, 4, 'a', 0})
	f.Add([]byte{5, 1, 0, 3, 1, 'x', 0, 80})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 2 {
			socks5Methods(b)
		}
		socks5Addr(b, 0, 8)
		socks4Request(b)
	})
}
