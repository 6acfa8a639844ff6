package quic

import "encoding/binary"

// Google QUIC (gQUIC), before it became IETF QUIC. Versions up to Q046
// send their first packet in clear, with a CHLO handshake message on
// stream 1; Q050 encrypts its Initial like IETF QUIC but still carries a
// CHLO; T050/T051 carry TLS. The layouts follow Chromium's QUIC wire
// format documents.

// GoogleCryptoData returns the handshake bytes of the first packet of a
// gQUIC connection of version v ≤ Q046 (in clear): the CHLO message.
func GoogleCryptoData(b []byte, v uint32) ([]byte, bool) {
	n := GoogleVersionNumber(v)
	if n == 0 || len(b) < 1 {
		return nil, false
	}
	var off int
	if n >= 46 {
		// IETF-like long header: flags, version, CID lengths (0x50:
		// 8-byte destination CID), CID, 4-byte packet number.
		if len(b) < 18 || b[5] != 0x50 {
			return nil, false
		}
		off = 1 + 4 + 1 + 8 + int(b[0]&3) + 1
	} else {
		// Public header: flags, 8-byte CID, version, packet number.
		flags := b[0]
		if flags&0x01 == 0 || flags&0x08 == 0 {
			return nil, false // no version or no connection ID: not a first packet
		}
		pnLen := 1
		switch flags & 0x30 {
		case 0x10:
			pnLen = 2
		case 0x20:
			pnLen = 4
		case 0x30:
			pnLen = 6
		}
		off = 1 + 8 + 4 + pnLen
	}
	off += 12 // message authentication hash of unencrypted packets
	if n < 34 {
		off++ // private flags
	}
	if off >= len(b) {
		return nil, false
	}
	return googleStreamFrame(b[off:], n)
}

// googleStreamFrame finds the stream-1 STREAM frame of a gQUIC payload
// and returns its data.
func googleStreamFrame(p []byte, n int) ([]byte, bool) {
	for len(p) > 0 && p[0] == 0 {
		p = p[1:]
	}
	if len(p) > 0 && (p[0] == 0x40 || p[0] == 0x60) {
		// An ACK before the data (a repeated CHLO): skip its fixed part.
		skip := 6
		if p[0] == 0x60 {
			skip = 9
		}
		if skip >= len(p) {
			return nil, false
		}
		p = p[skip:]
	}
	// STREAM frame: 1fdooo ss — FIN, data length present, offset length,
	// stream id length.
	if len(p) < 2 || p[0]&0x80 == 0 || p[0]&0x20 == 0 {
		return nil, false
	}
	t := p[0]
	sidLen := int(t&3) + 1
	offLen := int(t >> 2 & 7)
	if offLen > 0 {
		offLen++
	}
	if 1+sidLen+offLen+2 > len(p) || p[1] != 1 || sidLen != 1 {
		return nil, false
	}
	q := p[1+sidLen+offLen:]
	var l int
	if n >= 39 {
		l = int(binary.BigEndian.Uint16(q))
	} else {
		l = int(binary.LittleEndian.Uint16(q))
	}
	q = q[2:]
	if l > len(q) {
		return nil, false
	}
	return q[:l], true
}

// GoogleCryptoFrame returns the first CRYPTO frame (type 0x08 in gQUIC's
// numbering) of a decrypted Q050/T050/T051 payload: its offset and data.
func GoogleCryptoFrame(p []byte) (uint64, []byte, bool) {
	for len(p) > 0 && p[0] == 0 {
		p = p[1:]
	}
	if len(p) > 0 && (p[0] == 0x40 || p[0] == 0x60) {
		skip := 6
		if p[0] == 0x60 {
			skip = 9
		}
		if skip >= len(p) {
			return 0, nil, false
		}
		p = p[skip:]
	}
	if len(p) < 3 || p[0] != 0x08 {
		return 0, nil, false
	}
	p = p[1:]
	off, n := ReadVarint(p)
	if n == 0 {
		return 0, nil, false
	}
	p = p[n:]
	l, n := ReadVarint(p)
	if n == 0 || l > uint64(len(p)-n) {
		return 0, nil, false
	}
	return off, p[n : n+int(l)], true
}

// CHLO is what is kept of a gQUIC client hello (tag/value message).
type CHLO struct {
	SNI  []byte // tag "SNI\0"
	UAID []byte // tag "UAID": the client's user agent
}

// ParseCHLO reads a CHLO message: "CHLO", a little-endian tag count, two
// bytes of padding, (tag, end offset) pairs, then the values.
func ParseCHLO(b []byte, c *CHLO) bool {
	*c = CHLO{}
	if len(b) < 8 || string(b[:4]) != "CHLO" {
		return false
	}
	num := int(binary.LittleEndian.Uint16(b[4:6]))
	base := 8 + 8*num
	if base > len(b) {
		return false
	}
	prev := 0
	for i := 0; i < num; i++ {
		e := b[8+8*i : 16+8*i]
		end := int(binary.LittleEndian.Uint32(e[4:8]))
		if end < prev || base+end > len(b) {
			return false
		}
		v := b[base+prev : base+end]
		switch string(e[:4]) {
		case "SNI\x00":
			c.SNI = v
		case "UAID":
			c.UAID = v
		}
		prev = end
	}
	return true
}
