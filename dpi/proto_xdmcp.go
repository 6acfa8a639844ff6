package dpi

// X Display Manager Control Protocol (XDMCP 1.1 §7): version 1, an
// opcode (1..13), and a length of the data that follows the 6-byte header.
func dissectXDMCP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 6 || !hasPort(c, 177) {
		return Exclude
	}
	if be16(b, 0) != 1 || be16(b, 2) < 1 || be16(b, 2) > 13 || int(be16(b, 4))+6 != len(b) {
		return Exclude
	}
	return lanDone(c, ProtoXDMCP)
}
