package dpi

// Service Location Protocol, version 1 (RFC 2165 §7) and version 2
// (RFC 2608 §8). Both start with a fixed header whose length field gives
// the whole message. SLP always uses port 427 (RFC 2608 §6.1); the
// version 1 header in particular is too loose for other ports (a RADIUS
// packet passes it).
func dissectSLP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 12 || !hasPort(c, 427) {
		return Exclude
	}
	udp := c.L4() == IPProtoUDP
	switch b[0] {
	case 2:
		// RFC 2608 §8: version, function-id (1..11), 24-bit length, flags
		// (O, F, R; the other 13 bits are zero), next extension offset,
		// XID, language tag length and tag.
		if len(b) < 16 || b[1] < 1 || b[1] > 11 || be16(b, 5)&0x1fff != 0 {
			return Exclude
		}
		n := int(be24(b, 2))
		if n < 16 || (udp && n != len(b)) || (!udp && n < len(b)) {
			return Exclude
		}
		if tag := int(be16(b, 12)); 14+tag > n {
			return Exclude
		}
		return lanDone(c, ProtoServiceLocationProtocol)
	case 1:
		// RFC 2165 §7: version, function (1..10), 16-bit length, flags
		// (O, M, U, A, F; three reserved zero bits), dialect (zero),
		// language code, character encoding, XID.
		if b[1] < 1 || b[1] > 10 || b[4]&0x07 != 0 || b[5] != 0 {
			return Exclude
		}
		n := int(be16(b, 2))
		if n < 12 || (udp && n != len(b)) || (!udp && n < len(b)) {
			return Exclude
		}
		return lanDone(c, ProtoServiceLocationProtocol)
	}
	return Exclude
}
