package dpi

import "testing"

// WireGuard messages (whitepaper §5.4): type, three reserved zero bytes,
// then the fields of each type.
func wgInit(sender uint32) []byte { // sender, ephemeral, static, timestamp, mac1, mac2
	return cat([]byte{1, 0, 0, 0}, u32le(sender), fill(32, 1), fill(48, 2), fill(28, 3), fill(16, 4), make([]byte, 16))
}
func wgResp(sender, receiver uint32) []byte { // sender, receiver, ephemeral, empty, mac1, mac2
	return cat([]byte{2, 0, 0, 0}, u32le(sender), u32le(receiver), fill(32, 5), fill(16, 6), fill(16, 7), make([]byte, 16))
}
func wgCookie(receiver uint32) []byte { // receiver, nonce, encrypted cookie
	return cat([]byte{3, 0, 0, 0}, u32le(receiver), fill(24, 8), fill(32, 9))
}
func wgData(receiver uint32, counter uint64, n int) []byte {
	return cat([]byte{4, 0, 0, 0}, u32le(receiver), u32le(uint32(counter)), u32le(uint32(counter>>32)), fill(n+16, 10))
}

func TestWireGuard(t *testing.T) {
	init := wgInit(0x30d037d8)
	if len(init) != 148 || len(wgResp(1, 2)) != 92 || len(wgCookie(1)) != 64 {
		t.Fatal("message sizes differ from the whitepaper")
	}
	cases := []struct {
		name string
		pkts []pkt
		app  string
	}{
		{"handshake", []pkt{c2s(init), s2c(wgResp(0xab7df406, 0x30d037d8))}, "WireGuard"},
		{"cookie reply", []pkt{c2s(init), s2c(wgCookie(0x30d037d8))}, "WireGuard"},
		{"retransmitted initiation", []pkt{c2s(init), c2s(wgInit(0x30d037d8))}, "WireGuard"},
		{"response to another initiation", []pkt{c2s(init), s2c(wgResp(0xab7df406, 0x11111111))}, "Unknown"},
		{"TunnelBear's longer handshake", []pkt{c2s(cat(init, fill(56, 1))), s2c(cat(wgResp(9, 0x30d037d8), fill(8, 1)))}, "WireGuard.TunnelBear"},
		{"transport data mid-session", []pkt{
			s2c(wgData(0x8d6940be, 0x6b, 700)), s2c(wgData(0x8d6940be, 0x6c, 100)),
			c2s(wgData(0x5e61a66d, 0x70, 64)), c2s(wgData(0x5e61a66d, 0x71, 200)),
		}, "WireGuard"},
		{"transport data with changing index", []pkt{
			s2c(wgData(0x8d6940be, 1, 100)), c2s(wgData(0x5e61a66d, 1, 100)), c2s(wgData(0x5e61a66e, 2, 100)),
		}, "Unknown"},
		{"reserved bytes set", []pkt{c2s(cat([]byte{1, 0, 1, 0}, init[4:]))}, "Unknown"},
		{"initiation of the wrong size", []pkt{c2s(init[:140]), s2c(wgResp(1, 0x30d037d8))}, "Unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := play(t, IPProtoUDP, "10.9.0.1:43462", "10.9.0.2:40000", c.pkts...)
			if c.app == "Unknown" {
				if r.Master == ProtoWireGuard {
					t.Error("named WireGuard")
				}
				return
			}
			wantApp(t, r, c.app)
		})
	}
	if n := allocsPerFlow(t, IPProtoUDP, "10.9.0.1:43462", "10.9.0.2:51820", c2s(init), s2c(wgResp(0xab7df406, 0x30d037d8))); n != 0 {
		t.Errorf("%v allocs per flow", n)
	}
}
