package dpi

import "testing"

// pptpSCCRQ is a Start-Control-Connection-Request (RFC 2637 §2.1): length
// 156, message type 1, magic cookie, control type 1, reserved, protocol
// version 1.0, reserved, framing and bearer capabilities, maximum
// channels, firmware revision, 64-byte host name and vendor string.
func pptpSCCRQ() []byte {
	host := make([]byte, 64)
	copy(host, "local")
	vendor := make([]byte, 64)
	copy(vendor, "Microsoft")
	return cat(u16(156), u16(1), u32(pptpMagic), u16(1), u16(0), u16(0x0100), u16(0),
		u32(1), u32(1), u16(0), u16(0x0a28), host, vendor)
}

func TestPPTP(t *testing.T) {
	sccrq := pptpSCCRQ()
	if len(sccrq) != 156 {
		t.Fatalf("SCCRQ is %d bytes", len(sccrq))
	}
	// Start-Control-Connection-Reply: same layout, result code 1.
	sccrp := append([]byte(nil), sccrq...)
	sccrp[9] = 2
	echo := cat(u16(16), u16(1), u32(pptpMagic), u16(5), u16(0), u32(42))
	bad := append([]byte(nil), sccrq...)
	bad[4] = 0x1b // wrong magic cookie
	badLen := append([]byte(nil), sccrq...)
	badLen[1] = 155
	cases := []struct {
		name string
		pkts []pkt
		app  string
	}{
		{"SCCRQ", []pkt{c2s(sccrq)}, "PPTP"},
		{"SCCRP first", []pkt{s2c(sccrp)}, "PPTP"},
		{"echo request", []pkt{c2s(echo)}, "PPTP"},
		{"wrong magic", []pkt{c2s(bad)}, "Unknown"},
		{"length does not fit the type", []pkt{c2s(badLen)}, "Unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := play(t, IPProtoTCP, "10.0.0.1:40000", "10.0.0.2:5555", c.pkts...)
			if c.app == "Unknown" {
				if r.Master == ProtoPPTP {
					t.Error("named PPTP")
				}
				return
			}
			wantApp(t, r, c.app)
		})
	}
	if n := allocsPerFlow(t, IPProtoTCP, "10.0.0.1:40000", "10.0.0.2:1723", c2s(sccrq)); n != 0 {
		t.Errorf("%v allocs per flow", n)
	}
}
