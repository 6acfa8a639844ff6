package dpi

import "testing"

// edonkeyMsg frames an eDonkey message: protocol byte, little-endian
// length of opcode and data, opcode, data.
func edonkeyMsg(proto, op byte, data []byte) []byte {
	return cat([]byte{proto}, u32le(uint32(1+len(data))), []byte{op}, data)
}

func TestEDonkey(t *testing.T) {
	// OP_HELLO: user hash size 16, user hash, client id, port, tags.
	hello := edonkeyMsg(0xe3, 0x01, cat([]byte{16}, fill(16, 0x1b), u32le(0x5b), []byte{0x36, 0x12}, u32le(0)))
	helloAnswer := edonkeyMsg(0xe3, 0x4c, cat(fill(16, 0x3a), u32le(1), []byte{0, 0}, u32le(0)))
	// An eMule extended message each way (no Hello to go by).
	emuleInfo := edonkeyMsg(0xc5, 0x01, fill(30, 2))
	emuleAnswer := edonkeyMsg(0xc5, 0x02, fill(30, 3))
	cases := []struct {
		name  string
		pkts  []pkt
		named bool
	}{
		{"Hello", []pkt{c2s(hello)}, true},
		{"Hello answer alone", []pkt{s2c(helloAnswer)}, false},
		{"framed messages both ways", []pkt{c2s(emuleInfo), s2c(emuleAnswer)}, true},
		{"Hello spread over two segments, then the answer", []pkt{c2s(hello[:20]), c2s(hello[20:]), s2c(helloAnswer)}, true},
		{"length shorter than the segment", []pkt{c2s(cat(emuleInfo, []byte{1})), s2c(emuleAnswer)}, false},
		{"not eDonkey", []pkt{c2s(fill(40, 0x20)), s2c(emuleAnswer)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := play(t, IPProtoTCP, "201.15.177.227:1754", "135.192.214.240:7551", c.pkts...)
			if got := r.Master == ProtoEDonkey; got != c.named {
				t.Errorf("named eDonkey: %v, want %v", got, c.named)
			}
		})
	}
	if n := allocsPerFlow(t, IPProtoTCP, "201.15.177.227:1754", "135.192.214.240:7551", c2s(emuleInfo), s2c(emuleAnswer)); n != 0 {
		t.Errorf("%v allocs per flow", n)
	}
}
