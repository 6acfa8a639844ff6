package dpi

// FastCGI (FastCGI Specification §3.3, §5): records with version 1, a type
// (1 BEGIN_REQUEST .. 11 UNKNOWN_TYPE), a request id, a content and a
// padding length and a reserved byte. A request opens with BEGIN_REQUEST
// (8 bytes of body, role 1..3), then PARAMS records of name-value pairs;
// nDPI reports HTTP_HOST as the hostname and HTTP_USER_AGENT.
func dissectFastCGI(c *Ctx) Status {
	b := c.Payload
	st := &c.s.lan.fcgi
	if *st != 0 {
		if c.Dir == ToServer {
			if fcgiParams(c, b) {
				return Done
			}
		}
		if *st++; *st > 4 {
			return Done
		}
		return More
	}
	if len(b) < 16 || b[0] != 1 || b[1] != 1 || be16(b, 4) != 8 || b[7] != 0 || be16(b, 8) < 1 || be16(b, 8) > 3 {
		return Exclude
	}
	*st = 1
	lanSet(c, ProtoFastCGI, 0)
	c.Pending(FieldHostname | FieldMeta)
	// A PARAMS record may follow in the same segment, after the padding.
	if next := 16 + int(b[6]); len(b) > next && fcgiParams(c, b[next:]) {
		return Done
	}
	return More
}

// fcgiParams reads a PARAMS record and takes HTTP_HOST and
// HTTP_USER_AGENT; it reports whether it found a PARAMS record.
func fcgiParams(c *Ctx, b []byte) bool {
	if len(b) < 8 || b[0] != 1 || b[1] != 4 {
		return false
	}
	body := b[8:min(len(b), 8+int(be16(b, 4)))]
	for len(body) > 0 {
		var nl, vl int
		var ok bool
		if nl, body, ok = fcgiLen(body); !ok {
			break
		}
		if vl, body, ok = fcgiLen(body); !ok || nl+vl > len(body) {
			break
		}
		name, val := body[:nl], body[nl:nl+vl]
		switch string(name) {
		case "HTTP_HOST":
			c.SetHostname(val)
		case "HTTP_USER_AGENT":
			c.Flow.Result.UserAgent = c.Intern(val)
		}
		body = body[nl+vl:]
	}
	return true
}

// fcgiLen reads a name-value length: one byte, or four with the top bit set.
func fcgiLen(b []byte) (int, []byte, bool) {
	if len(b) < 1 {
		return 0, b, false
	}
	if b[0]&0x80 == 0 {
		return int(b[0]), b[1:], true
	}
	if len(b) < 4 {
		return 0, b, false
	}
	return int(be32(b, 0) & 0x7fffffff), b[4:], true
}
