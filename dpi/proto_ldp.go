package dpi

// Label Distribution Protocol (RFC 5036 §3.1, §3.5): a PDU header of
// version 1, a PDU length that counts the bytes after it, the LSR id and
// label space, then messages whose 15-bit type is a hello (0x0100),
// initialization (0x0200), keepalive (0x0201) or another of the 0x0001..0x0500 range.
func dissectLDP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 18 || be16(b, 0) != 1 || !hasPort(c, 646) {
		return Exclude
	}
	n := int(be16(b, 2)) + 4
	if n < 18 || (c.L4() == IPProtoUDP && n != len(b)) || n > len(b)+4096 {
		return Exclude
	}
	if t := be16(b, 10) & 0x7fff; t < 0x0001 || t > 0x0500 {
		return Exclude
	}
	return lanDone(c, ProtoLDP)
}
