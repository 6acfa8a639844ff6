package dpi

import "testing"

// ikeMsg builds an IKE header (RFC 7296 §3.1 / RFC 2408 §3.1) and body:
// initiator SPI, responder SPI, next payload, version, exchange type,
// flags, message id, length.
func ikeMsg(ispi, rspi uint64, np, ver, xchg, flags byte, msgID uint32, body []byte) []byte {
	return cat(u32(uint32(ispi>>32)), u32(uint32(ispi)), u32(uint32(rspi>>32)), u32(uint32(rspi)),
		[]byte{np, ver, xchg, flags}, u32(msgID), u32(uint32(28+len(body))), body)
}

func TestIPSec(t *testing.T) {
	// IKE_SA_INIT request: SA payload first (33), IKEv2, exchange 34,
	// Initiator flag.
	saInit := ikeMsg(0xb64ef32131a48952, 0, 33, 0x20, 34, 0x08, 0, fill(300, 1))
	// IKE_AUTH over NAT-T: Encrypted payload (46), exchange 35.
	auth := ikeMsg(0xb64ef32131a48952, 0x86babd3904886955, 46, 0x20, 35, 0x08, 1, fill(200, 2))
	// IKEv1 Main Mode: SA payload (1), version 1.0, exchange 2.
	mainMode := ikeMsg(0x0102030405060708, 0, 1, 0x10, 2, 0, 0, fill(100, 3))
	badLen := append([]byte(nil), saInit...)
	badLen[27]++
	badXchg := ikeMsg(0xb64ef32131a48952, 0, 33, 0x20, 40, 0x08, 0, fill(50, 1))
	esp := func(spi, seq uint32) []byte { return cat(u32(spi), u32(seq), fill(64, byte(seq))) }

	cases := []struct {
		name     string
		cli, srv string
		pkts     []pkt
		named    bool
	}{
		{"IKEv2 SA_INIT on 500", "192.168.2.100:10500", "109.237.187.227:500", []pkt{c2s(saInit)}, true},
		{"IKEv2 on another port", "192.168.2.100:10500", "109.237.187.227:7777", []pkt{c2s(saInit)}, true},
		{"IKE_AUTH behind the non-ESP marker on 4500", "192.168.2.100:14500", "109.237.187.130:4500", []pkt{c2s(cat(u32(0), auth))}, true},
		{"IKEv1 main mode", "10.0.0.1:500", "10.0.0.2:500", []pkt{c2s(mainMode)}, true},
		{"length does not match", "10.0.0.1:500", "10.0.0.2:500", []pkt{c2s(badLen)}, false},
		{"unknown exchange type", "10.0.0.1:500", "10.0.0.2:500", []pkt{c2s(badXchg)}, false},
		{"zero initiator SPI", "10.0.0.1:500", "10.0.0.2:500", []pkt{c2s(ikeMsg(0, 0, 33, 0x20, 34, 8, 0, nil))}, false},
		{"NAT keepalive", "10.0.0.1:4500", "10.0.0.2:4500", []pkt{c2s([]byte{0xff})}, true},
		{"ESP in UDP, one SA", "10.0.0.1:4500", "10.0.0.2:4500", []pkt{c2s(esp(0xc0ffee01, 5)), c2s(esp(0xc0ffee01, 6))}, true},
		{"ESP in UDP, an SA each way", "10.0.0.1:33000", "10.0.0.2:4500", []pkt{c2s(esp(0xc0ffee01, 5)), s2c(esp(0xbeef0002, 9))}, true},
		{"ESP-shaped off port 4500", "10.0.0.1:33000", "10.0.0.2:4501", []pkt{c2s(esp(0xc0ffee01, 5)), c2s(esp(0xc0ffee01, 6))}, false},
		{"ESP with a reserved SPI", "10.0.0.1:4500", "10.0.0.2:4500", []pkt{c2s(esp(7, 5)), c2s(esp(7, 6))}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := play(t, IPProtoUDP, c.cli, c.srv, c.pkts...)
			if got := r.Master == ProtoIPSec && r.Confidence == ConfDPI; got != c.named {
				t.Errorf("named IPSec: %v, want %v (%s, %v)", got, c.named, r.AppName(), r.Confidence)
			}
		})
	}
	if n := allocsPerFlow(t, IPProtoUDP, "192.168.2.100:10500", "109.237.187.227:500", c2s(saInit)); n != 0 {
		t.Errorf("%v allocs per flow", n)
	}
}

func FuzzIKE(f *testing.F) {
	f.Add(ikeMsg(1, 0, 33, 0x20, 34, 8, 0, fill(10, 1)))
	f.Fuzz(func(t *testing.T, b []byte) { validIKE(b) })
}
