package dpi

// Ubiquiti discovery (UBNT AirControl 2), UDP 10001: a version byte (1 or
// 2), a command, a 16-bit length of the rest, then type-length-value
// records (8-bit type, 16-bit length) that fill the packet exactly.
func dissectUBNTAC2(c *Ctx) Status {
	b := c.Payload
	if len(b) < 4 || !hasPort(c, 10001) || (b[0] != 1 && b[0] != 2) {
		return Exclude
	}
	if int(be16(b, 2)) != len(b)-4 {
		return Exclude
	}
	for off := 4; off < len(b); {
		if off+3 > len(b) {
			return Exclude
		}
		off += 3 + int(be16(b, off+1))
		if off > len(b) {
			return Exclude
		}
	}
	return lanDone(c, ProtoUBNTAC2)
}
