package dpi

// Locator/ID Separation Protocol. Control messages (RFC 9301 §5) go to UDP
// 4342 with the type in the top four bits: Map-Request (1), Map-Reply (2),
// Map-Register (3), Map-Notify (4), Map-Notify-Ack (5), Encapsulated
// Control Message (8). Data (RFC 9300 §5.1) goes to UDP 4341: an 8-byte
// header before an inner IP packet. The reliable transport of
// draft-ietf-lisp-map-server-reliable-transport runs over TCP 4342 with
// 16-bit type and length fields.
func dissectLISP(c *Ctx) Status {
	b := c.Payload
	if c.L4() == IPProtoTCP {
		if !hasPort(c, 4342) || len(b) < 8 {
			return Exclude
		}
		if t, n := be16(b, 0), int(be16(b, 2)); t >= 17 && t <= 22 && n >= 8 && n <= len(b) {
			return lanDone(c, ProtoLISP)
		}
		return Exclude
	}
	switch {
	case hasPort(c, 4342) && len(b) >= 12:
		switch b[0] >> 4 {
		case 1, 2, 3, 4, 5, 8:
			return lanDone(c, ProtoLISP)
		}
	case hasPort(c, 4341) && len(b) >= 8+20:
		if v := b[8] >> 4; v == 4 || v == 6 {
			return lanDone(c, ProtoLISP)
		}
	}
	return Exclude
}
