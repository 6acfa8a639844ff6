package dpi

// MySQL client/server protocol (MySQL internals "Protocol::HandshakeV10"):
// the server speaks first with a packet — a 3-byte little-endian length,
// sequence id 0 — holding protocol version 10 and a NUL-terminated
// printable server version string.
func dissectMySQL(c *Ctx) Status {
	b := c.Payload
	if len(b) < 40 || int(b[0])|int(b[1])<<8|int(b[2])<<16 != len(b)-4 || b[3] != 0 || b[4] != 10 {
		return Exclude
	}
	v := b[5:]
	end := 0
	for end < len(v) && end < 64 && v[end] != 0 {
		end++
	}
	if end == 0 || end >= len(v) || v[end] != 0 || !printable(v[:end]) || v[0] < '3' || v[0] > '9' {
		return Exclude
	}
	return lanDone(c, ProtoMySQL)
}
