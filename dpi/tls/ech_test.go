package tls

import (
	"encoding/binary"
	"testing"
)

// helloWith builds a ClientHello body (RFC 8446 §4.1.2) with an SNI and
// the given extension, for the extension parsers' table tests.
func helloWith(sni string, typ uint16, ext []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, VersionTLS12)
	b = append(b, make([]byte, 32)...) // random
	b = append(b, 0)                   // session id
	b = append(b, 0, 2, 0x13, 0x01)    // one cipher suite
	b = append(b, 1, 0)                // null compression
	var exts []byte
	name := append([]byte{0}, binary.BigEndian.AppendUint16(nil, uint16(len(sni)))...)
	name = append(name, sni...)
	list := append(binary.BigEndian.AppendUint16(nil, uint16(len(name))), name...)
	exts = binary.BigEndian.AppendUint16(exts, ExtServerName)
	exts = binary.BigEndian.AppendUint16(exts, uint16(len(list)))
	exts = append(exts, list...)
	exts = binary.BigEndian.AppendUint16(exts, typ)
	exts = binary.BigEndian.AppendUint16(exts, uint16(len(ext)))
	exts = append(exts, ext...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(exts)))
	return append(b, exts...)
}

// echOuter builds an outer ECHClientHello (RFC 9849 §5): type 0, HPKE
// KDF and AEAD ids, config_id, enc, payload.
func echOuter(configID uint8, enc, payload int) []byte {
	b := []byte{0}
	b = binary.BigEndian.AppendUint16(b, 0x0001) // HKDF-SHA256
	b = binary.BigEndian.AppendUint16(b, 0x0001) // AES-128-GCM
	b = append(b, configID)
	b = binary.BigEndian.AppendUint16(b, uint16(enc))
	b = append(b, make([]byte, enc)...)
	b = binary.BigEndian.AppendUint16(b, uint16(payload))
	return append(b, make([]byte, payload)...)
}

func TestClientHelloECH(t *testing.T) {
	for _, tc := range []struct {
		name       string
		typ        uint16
		ext        []byte
		ech, outer bool
		id         uint8
		payload    int
		badLen     bool
	}{
		{"outer ECH", ExtECH, echOuter(0x2a, 32, 239), true, true, 0x2a, 239, false},
		{"outer ECH after HRR (empty enc)", ExtECH, echOuter(7, 0, 144), true, true, 7, 144, false},
		{"inner marker", ExtECH, []byte{1}, true, false, 0, 0, false},
		{"empty payload", ExtECH, echOuter(1, 32, 0), true, false, 0, 0, false},
		{"truncated ECH", ExtECH, echOuter(1, 32, 200)[:50], true, false, 0, 0, false},
		{"trailing bytes", ExtECH, append(echOuter(1, 32, 10), 0), true, false, 0, 0, false},
		{"empty extension", ExtECH, nil, true, false, 0, 0, false},
		{"draft ESNI is not ECH", ExtESNI, echOuter(1, 32, 10), false, false, 0, 0, false},
		{"neighbouring id", 0xfe0c, echOuter(1, 32, 10), false, false, 0, 0, false},
	} {
		var h ClientHello
		if err := ParseClientHello(helloWith("public.example", tc.typ, tc.ext), false, &h); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if h.ECH != tc.ech || h.ECHOuter != tc.outer || h.ECHConfigID != tc.id || h.ECHPayloadLen != tc.payload || h.BadExtLen != tc.badLen {
			t.Errorf("%s: ECH %v outer %v id %d payload %d badlen %v", tc.name, h.ECH, h.ECHOuter, h.ECHConfigID, h.ECHPayloadLen, h.BadExtLen)
		}
		if string(h.SNI) != "public.example" {
			t.Errorf("%s: SNI %q", tc.name, h.SNI)
		}
	}
	// An ECH extension whose length runs past the block is counted, not read.
	b := helloWith("public.example", ExtECH, echOuter(1, 32, 10))
	b[len(b)-len(echOuter(1, 32, 10))-1] += 9
	var h ClientHello
	if err := ParseClientHello(b, false, &h); err != nil || !h.ECH || h.ECHOuter || !h.BadExtLen {
		t.Errorf("overlong ECH: err %v ECH %v outer %v badlen %v", err, h.ECH, h.ECHOuter, h.BadExtLen)
	}
}
