package dpi

// PostgreSQL frontend/backend protocol (PostgreSQL docs §55.7 "Message
// Formats"): the client opens with a length-prefixed StartupMessage
// (protocol 3.0, 0x00030000, and "user" among its parameters), or with an
// SSLRequest (80877103), GSSENCRequest (80877104) or CancelRequest
// (80877102) of fixed length, which the server answers with the single
// byte 'S', 'N' or 'G'.
func dissectPostgreSQL(c *Ctx) Status {
	b := c.Payload
	st := &c.s.lan.pg
	if *st == 1 {
		if c.Dir == ToClient {
			if len(b) == 1 && (b[0] == 'S' || b[0] == 'N' || b[0] == 'G') {
				return lanDone(c, ProtoPostgreSQL)
			}
			return Exclude
		}
		return Continue
	}
	if len(b) < 8 || int(be32(b, 0)) != len(b) || c.Dir != ToServer {
		return Exclude
	}
	switch code := be32(b, 4); {
	case code == 0x00030000:
		if index(b[8:], "user\x00") >= 0 {
			return lanDone(c, ProtoPostgreSQL)
		}
	case code == 80877103 || code == 80877104:
		if len(b) == 8 {
			*st = 1
			return Continue
		}
	case code == 80877102:
		if len(b) == 16 {
			return lanDone(c, ProtoPostgreSQL)
		}
	}
	return Exclude
}
