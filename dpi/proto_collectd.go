package dpi

// collectd's binary network protocol (collectd.org "Binary protocol"): a
// datagram is a sequence of parts, each a 16-bit type, a 16-bit length
// that includes the 4-byte part header, and a value. The parts must tile
// the datagram exactly. The host part (type 0) names the sender. Signed
// (0x0200) and encrypted (0x0210) datagrams are opaque: like nDPI, they
// are left to the port. A sender resets its state per datagram, so the
// first part is the host (0x0000) or a time (0x0001, 0x0008); without that
// anchor any datagram whose bytes 2..3 happen to hold its length would
// tile as one part.
func dissectCollectd(c *Ctx) Status {
	b := c.Payload
	if len(b) < 4 || c.L4() != IPProtoUDP {
		return Exclude
	}
	if t := be16(b, 0); t != 0x0000 && t != 0x0001 && t != 0x0008 {
		return Exclude
	}
	var host []byte
	for off := 0; off < len(b); {
		if off+4 > len(b) {
			return Exclude
		}
		typ, n := be16(b, off), int(be16(b, off+2))
		if n < 4 || off+n > len(b) || typ == 0x0200 || typ == 0x0210 {
			return Exclude
		}
		if typ == 0 && host == nil && n > 5 {
			host = b[off+4 : off+n-1] // a NUL-terminated string
		}
		off += n
	}
	lanSet(c, ProtoCollectd, 0)
	if len(host) > 0 && printable(host) {
		c.SetHostname(host)
	}
	return Done
}

// printable reports whether b is non-empty printable ASCII.
func printable(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, x := range b {
		if x < 0x20 || x > 0x7e {
			return false
		}
	}
	return true
}
