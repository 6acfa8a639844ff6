//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"testing"

	"ips/dpi/quic"
)

// clientInitial protects a QUIC v1 client Initial carrying crypto in one
// CRYPTO frame, padded to 1200 bytes.
func clientInitial(t *testing.T, crypto []byte) []byte {
	dcid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	k, err := quic.ClientInitialKeys(1, dcid)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte{quic.FrameCrypto, 0}
	payload = appendVarint(payload, uint64(len(crypto)))
	payload = append(payload, crypto...)
	payload = append(payload, make([]byte, 1100-len(payload))...)
	hdr := []byte{0xc0 | 1, 0, 0, 0, 1, byte(len(dcid))} // 2-byte packet number
	hdr = append(hdr, dcid...)
	hdr = append(hdr, 0, 0) // no SCID, no token
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(2+len(payload)+16)|0x4000)
	pnOff := len(hdr)
	hdr = append(hdr, 0, 7)
	return k.Seal(nil, hdr, payload, pnOff, 2, 7)
}

// The rewritten Initial opens with the same keys and packet number, and
// its CRYPTO frames, reassembled by offset, give back the same bytes,
// not in order.
func TestRewriteInitial(t *testing.T) {
	crypto := bytes.Repeat([]byte("hello-"), 20)
	crypto = append(crypto, "server name blocked.example and more"...)
	crypto = append(crypto, bytes.Repeat([]byte("tail-"), 30)...)
	for _, mode := range []string{"quicreorder", "quicshuffle"} {
		t.Run(mode, func(t *testing.T) {
			dg, err := rewriteInitial(clientInitial(t, crypto), mode, "blocked.example")
			if err != nil {
				t.Fatal(err)
			}
			h, err := quic.ParseLongHeader(dg)
			if err != nil || h.PacketLen != len(dg) {
				t.Fatalf("header %+v %v", h, err)
			}
			k, _ := quic.ClientInitialKeys(h.Version, h.DCID)
			plain, pn, err := k.Open(make([]byte, len(dg)), dg, &h)
			if err != nil || pn != 7 {
				t.Fatalf("open: pn %d %v", pn, err)
			}
			var c quic.Crypto
			c.Reset(make([]byte, 4096))
			fr := quic.NewFrameReader(plain)
			var offs []uint64
			for f, ok := fr.Next(); ok; f, ok = fr.Next() {
				if f.Type == quic.FrameCrypto {
					c.Add(f.Offset, f.Data)
					offs = append(offs, f.Offset)
				}
			}
			if fr.Err() != nil {
				t.Fatal(fr.Err())
			}
			if got := c.Contiguous(); !bytes.Equal(got, crypto) {
				t.Errorf("CRYPTO data %q, want %q", got, crypto)
			}
			if len(offs) < 2 || offs[0] < offs[1] {
				t.Errorf("frame offsets %v: want several, out of order", offs)
			}
		})
	}
}
