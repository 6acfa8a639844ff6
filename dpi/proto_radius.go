package dpi

// RADIUS (RFC 2865 §3, RFC 2866 §3, RFC 5176 §3): code, identifier, a
// 16-bit length covering the whole packet, a 16-byte authenticator, then
// attributes. A UDP datagram carries exactly one packet, so the length
// must equal the payload. Like nDPI, only the registered ports are tried:
// the header alone is too short a signature for arbitrary ports.
func dissectRadius(c *Ctx) Status {
	b := c.Payload
	if len(b) < 20 || len(b) > 4096 {
		return Exclude
	}
	if !hasPort(c, 1812) && !hasPort(c, 1813) && !hasPort(c, 1645) && !hasPort(c, 1646) && !hasPort(c, 3799) {
		return Exclude
	}
	switch code := b[0]; {
	case code >= 1 && code <= 5, code >= 11 && code <= 13, code >= 40 && code <= 45:
	default:
		return Exclude
	}
	if int(be16(b, 2)) != len(b) {
		return Exclude
	}
	return lanDone(c, ProtoRadius)
}
