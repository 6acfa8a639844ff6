package dpi

import "ips/internal/ascii"

// Oracle Net (TNS): an 8-byte header — packet length (the whole packet),
// packet checksum, type (1 CONNECT, 2 ACCEPT, 4 REFUSE, 5 REDIRECT, 6
// DATA, ...), a reserved byte and a header checksum. A CONNECT carries a
// connect descriptor, "(DESCRIPTION=...".
func dissectOracle(c *Ctx) Status {
	b := c.Payload
	if len(b) < 34 || int(be16(b, 0)) != len(b) || b[4] != 1 || b[5] != 0 {
		return Exclude
	}
	if ascii.Index(b, "(description=") < 0 && !hasPort(c, 1521) {
		return Exclude
	}
	return lanDone(c, ProtoOracle)
}
