package dpi

// DHCPv6 (RFC 8415 §8 and §9): clients send from 546 to 547, relays and
// servers between 547s; a message type (1..13 client/server, 12..13 relay,
// up to 36 with later extensions) and a 24-bit transaction id, followed by
// options (16-bit code, 16-bit length) that fill the message.
func dissectDHCPv6(c *Ctx) Status {
	b := c.Payload
	if len(b) < 4 || (!hasPort(c, 546) && !hasPort(c, 547)) || b[0] < 1 || b[0] > 36 {
		return Exclude
	}
	off := 4
	if b[0] == 12 || b[0] == 13 { // relay: hop count and two addresses
		off = 34
	}
	for off < len(b) {
		if off+4 > len(b) {
			return Exclude
		}
		off += 4 + int(be16(b, off+2))
	}
	if off != len(b) && len(b) > 4 {
		return Exclude
	}
	return lanDone(c, ProtoDHCPV6)
}
