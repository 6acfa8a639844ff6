package dpi

// RMCP (DMTF DSP0136 §3.2.2.1, the transport of ASF and IPMI over LAN):
// version 6, a reserved zero byte, a sequence number and a class byte
// (ASF 6, IPMI 7, OEM 8, with the acknowledge bit 0x80). ASF messages then
// carry the IANA number 4542; IPMI sessions an authentication type.
func dissectRMCP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 || !hasPort(c, 623) || b[0] != 6 || b[1] != 0 {
		return Exclude
	}
	switch b[3] & 0x1f {
	case 6:
		if b[3]&0x80 == 0 && be32(b, 4) != 4542 {
			return Exclude
		}
	case 7:
		switch b[4] { // none, MD2, MD5, password, OEM, RMCP+
		case 0, 1, 2, 4, 5, 6:
		default:
			return Exclude
		}
	case 8:
	default:
		return Exclude
	}
	return lanDone(c, ProtoRMCP)
}
