package dpi

import "encoding/binary"

// Viber. Its TCP messages start with their own length (little-endian
// 16 bits) followed by fixed bytes; its UDP call and relay packets carry
// fixed message types at offsets 2-5.
func dissectViber(c *Ctx) Status {
	b := c.Payload
	n := len(b)
	if c.L4() == IPProtoTCP {
		if n >= 11 && int(binary.LittleEndian.Uint16(b)) == n &&
			((binary.BigEndian.Uint16(b[6:]) == 0xfcff && b[9] == 0x80) ||
				(binary.BigEndian.Uint16(b[4:]) == 0x0380 && b[10] == 0x0a)) {
			c.Set(ProtoViber, 0)
			return Done
		}
		return Exclude
	}
	if n > 5 && ((b[2] == 0x03 && b[3] == 0x00) ||
		(n == 20 && b[2] == 0x09 && b[3] == 0x00) ||
		(b[2] == 0x01 && b[3] == 0x00 && b[4] == 0x05 && b[5] == 0x00) ||
		(n == 34 && (b[2] == 0x19 || b[2] == 0x1b) && b[3] == 0x00)) {
		c.Set(ProtoViber, 0)
		return Done
	}
	return Exclude
}
