package dpi

// Diameter (RFC 6733 §3): version 1, a 24-bit message length, command
// flags (R, P, E, T; the low four bits reserved zero), a 24-bit command
// code, the application id and two identifiers.
func dissectDiameter(c *Ctx) Status {
	b := c.Payload
	if len(b) < 20 || b[0] != 1 || b[4]&0x0f != 0 {
		return Exclude
	}
	n := int(be24(b, 1))
	if n < 20 || n&3 != 0 || (n != len(b) && !(n > len(b) && hasPort(c, 3868))) {
		return Exclude
	}
	switch cmd := be24(b, 5); {
	case cmd == 257, cmd == 258, cmd == 271, cmd == 272, cmd == 274, cmd == 275, cmd == 280, cmd == 282,
		cmd >= 316 && cmd <= 324, hasPort(c, 3868):
	default:
		return Exclude
	}
	return lanDone(c, ProtoDiameter)
}
