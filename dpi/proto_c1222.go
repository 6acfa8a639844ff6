package dpi

// ANSI C12.22 (IEEE 1703) over TCP and UDP port 1153: each message is an
// ACSE PDU, a BER [APPLICATION 0] element (0x60) whose first field is one
// of the context-tagged ACSE elements (called AP title 0xa2, calling AP
// title 0xa6, and so on).
func dissectC1222(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 || b[0] != 0x60 || !hasPort(c, 1153) {
		return Exclude
	}
	_, s, n, ok := berTLV(b, 0)
	if !ok || s+n != len(b) || s >= len(b) {
		return Exclude
	}
	if t := b[s]; t < 0xa1 || t > 0xbe {
		return Exclude
	}
	return lanDone(c, ProtoANSIC1222)
}
