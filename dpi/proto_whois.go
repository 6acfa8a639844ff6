package dpi

// WHOIS (RFC 3912): the client sends one line, the query, to port 43 and
// the server answers with text and closes. nDPI reports the query as the
// flow's hostname.
func dissectWhois(c *Ctx) Status {
	b := c.Payload
	if c.ServerPort() != 43 || c.Dir != ToServer {
		return Exclude
	}
	if len(b) < 3 || len(b) > 256 || b[len(b)-1] != '\n' {
		return Exclude
	}
	q := trimSpace(b)
	if !printable(q) {
		return Exclude
	}
	lanSet(c, ProtoWhoisDAS, 0)
	if index(q, " ") < 0 && index(q, ".") > 0 {
		c.SetHostname(q)
	}
	return Done
}
