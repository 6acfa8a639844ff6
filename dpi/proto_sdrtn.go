package dpi

import "encoding/binary"

// SD-RTN is Agora's real-time network. Its UDP join message carries the
// edge server's name in an "\x04SNI" field: a 2-byte length at offset 16,
// a zero byte, then the name (e.g. 23-248-186-179.edge.agora.io).
func dissectSDRTN(c *Ctx) Status {
	b := c.Payload
	if len(b) < 20 || b[6] != 0x21 || binary.BigEndian.Uint32(b[12:]) != 0x04534e49 || b[18] != 0 {
		return Exclude
	}
	n := int(binary.BigEndian.Uint16(b[16:]))
	if 19+n > len(b) {
		return Exclude
	}
	c.Set(ProtoSDRTN, 0)
	if n > 0 && c.Flow.Result.Hostname == "" {
		c.Flow.Result.Hostname = c.e.intern.lower(b[19 : 19+n])
	}
	return Done
}
