package dpi

// NTP (RFC 5905 §7.3; modes 6 and 7 of RFC 1305 appendix B and ntpd's
// private mode): the first byte holds leap indicator, version (1..4) and
// mode. Mode 1..5 packets carry at least the 48-byte header; control and
// private modes are shorter. The header has no magic, so the NTP port is
// required on one side.
func dissectNTP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 || (!hasPort(c, 123)) {
		return Exclude
	}
	v, mode := b[0]>>3&7, b[0]&7
	if v < 1 || v > 4 {
		return Exclude
	}
	switch {
	case mode >= 1 && mode <= 5:
		if len(b) < 48 {
			return Exclude
		}
	case mode == 6:
		if len(b) < 12 {
			return Exclude
		}
	case mode == 7:
	default:
		return Exclude
	}
	return lanDone(c, ProtoNTP)
}
