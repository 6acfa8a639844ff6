package quic

import (
	"bytes"
	"testing"
)

func FuzzInitial(f *testing.F) {
	f.Add(unhex(f, rfcClientPacketV1))
	f.Add(unhex(f, rfcClientPacketV2))
	f.Add(unhex(f, rfcServerPacketV1))
	k, _ := ClientInitialKeys(Version1, unhex(f, rfcDCID))
	std := newStdKeys(f, Version1, unhex(f, rfcDCID))
	dst := make([]byte, 1<<16)
	dst2 := make([]byte, 1<<16)
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			h, err := ParseLongHeader(b)
			if err != nil {
				return
			}
			if h.PacketLen <= 0 || h.PacketLen > len(b) {
				t.Fatalf("packet length %d of %d", h.PacketLen, len(b))
			}
			payload, _, err := k.Open(dst, b, &h)
			if err == nil {
				r := NewFrameReader(payload)
				for _, ok := r.Next(); ok; _, ok = r.Next() {
				}
			}
			// Where the authenticating oracle accepts, Open agrees.
			if want, _, werr := std.open(dst2, b, &h); werr == nil && (err != nil || !bytes.Equal(payload, want)) {
				t.Fatalf("oracle opens, Open: %v", err)
			}
			b = b[h.PacketLen:]
		}
	})
}

func FuzzFrames(f *testing.F) {
	f.Add(unhex(f, rfcClientFrames))
	f.Add([]byte{0x02, 0x05, 0x00, 0x01, 0x00, 0x01, 0x02, 0x1c, 0x0a, 0x06, 0x02, 'n', 'o'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Crypto
		c.Reset(make([]byte, 0, 512))
		r := NewFrameReader(b)
		for fr, ok := r.Next(); ok; fr, ok = r.Next() {
			if fr.Type == FrameCrypto {
				c.Add(fr.Offset, fr.Data)
			}
		}
		if got := c.Contiguous(); len(got) > 512 {
			t.Fatal("reassembly past its bound")
		}
		GoogleCryptoFrame(b)
	})
}

func FuzzCryptoReassembly(f *testing.F) {
	f.Add([]byte{0, 5, 10, 3, 20, 7, 1, 40})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var c Crypto
		c.Reset(make([]byte, 0, 64))
		var want [64]bool
		for i := 0; i+1 < len(ops); i += 2 {
			off, n := int(ops[i]), int(ops[i+1]%32)
			data := make([]byte, n)
			for j := range data {
				data[j] = byte(off + j)
			}
			c.Add(uint64(off), data)
			for j := off; j < off+n && j < 64; j++ {
				want[j] = true
			}
		}
		got := c.Contiguous()
		for j, b := range got {
			if !want[j] || b != byte(j) {
				t.Fatalf("byte %d wrong or never received", j)
			}
		}
		if !c.Overflow && len(got) < 64 && want[len(got)] {
			t.Fatalf("contiguous prefix stops early at %d", len(got))
		}
	})
}

func FuzzGoogle(f *testing.F) {
	chlo := []byte("CHLO\x01\x00\x00\x00SNI\x00\x03\x00\x00\x00abc")
	p := append([]byte{0xc3, 'Q', '0', '4', '6', 0x50, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1}, make([]byte, 12)...)
	p = append(append(p, 0xa0, 0x01, 0, byte(len(chlo))), chlo...)
	f.Add(p, uint32(0x51303436))
	f.Add(chlo, uint32(0x51303433))
	f.Fuzz(func(t *testing.T, b []byte, v uint32) {
		var c CHLO
		ParseCHLO(b, &c)
		if d, ok := GoogleCryptoData(b, v); ok {
			ParseCHLO(d, &c)
		}
	})
}

// FuzzOpenMatchesStdlib seals an Initial with the standard library's
// AES-GCM (Seal) under the keys of a fuzzed connection ID and checks that
// Open recovers the packet number and the payload.
func FuzzOpenMatchesStdlib(f *testing.F) {
	f.Add(unhex(f, rfcDCID), uint8(3), uint32(2), unhex(f, rfcClientFrames))
	f.Add([]byte{}, uint8(0), uint32(0), []byte{1, 2, 3})
	dst := make([]byte, 1<<12)
	f.Fuzz(func(t *testing.T, dcid []byte, pnLen8 uint8, pn32 uint32, payload []byte) {
		if len(dcid) > MaxCIDLen || len(payload) > 2000 {
			return
		}
		pnLen := int(pnLen8%4) + 1
		pn := uint64(pn32) & (1<<(8*pnLen) - 1)
		if len(payload) < 4-pnLen {
			payload = append(payload, make([]byte, 4-pnLen)...)
		}
		var k Keys
		if err := k.DeriveClientInitial(Version1, dcid); err != nil {
			t.Fatal(err)
		}
		hdr, off := initialPacket(Version1, dcid, pnLen, pn, len(payload))
		pkt := k.Seal(nil, hdr, payload, off, pnLen, pn)
		h, err := ParseLongHeader(pkt)
		if err != nil {
			t.Fatal(err)
		}
		got, gotPN, err := k.Open(dst, pkt, &h)
		if err != nil || gotPN != pn || !bytes.Equal(got, payload) {
			t.Fatalf("pn %d → %d, err %v, payload equal %v", pn, gotPN, err, bytes.Equal(got, payload))
		}
	})
}
