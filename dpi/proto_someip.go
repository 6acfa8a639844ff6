package dpi

// SOME/IP (AUTOSAR PRS_SOMEIPProtocol §4.1.2): message id, a length that
// counts the bytes after itself, request id, protocol version 1, interface
// version, message type and return code. Over UDP a datagram may hold
// several messages; the first must fit.
func dissectSOMEIP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 16 || b[12] != 1 {
		return Exclude
	}
	n := int(be32(b, 4))
	if n < 8 || 8+n > len(b) || (c.L4() == IPProtoUDP && 8+n != len(b) && len(b)-(8+n) < 16) {
		return Exclude
	}
	switch b[14] &^ 0x20 { // the TP flag marks segments
	case 0x00, 0x01, 0x02, 0x40, 0x41, 0x42, 0x80, 0x81:
	default:
		return Exclude
	}
	if b[15] > 0x5e {
		return Exclude
	}
	return lanDone(c, ProtoSOMEIP)
}
