package dpi

import "encoding/binary"

// OICQ is Tencent QQ's UDP messaging protocol: a 0x02 start byte, the
// client version, a command and a sequence number (the packet ends with
// 0x03). Only the version nDPI knows, 0x3b0b, is accepted: the framing
// alone is too weak for arbitrary UDP.
func dissectOICQ(c *Ctx) Status {
	b := c.Payload
	if len(b) < 7 || b[0] != 0x02 || binary.BigEndian.Uint16(b[1:]) != 0x3b0b {
		return Exclude
	}
	if cmd := binary.BigEndian.Uint16(b[3:]); cmd == 0 || (cmd > 0x00b5 && cmd != 0x03f7) {
		return Exclude
	}
	c.Set(ProtoOICQ, 0)
	return Done
}
