package dpi

import "ips/internal/ascii"

// NNTP (RFC 3977 §5.1): the server greets with 200 (posting allowed) or
// 201; readers send MODE READER, AUTHINFO, GROUP, ARTICLE and so on. nDPI
// names it Usenet.
func dissectUsenet(c *Ctx) Status {
	b := c.Payload
	if c.Dir == ToClient {
		if (replyCode(b, "200") || replyCode(b, "201")) && (hasPort(c, 119) || ascii.Index(line(b), "nntp") >= 0 || ascii.Index(line(b), "news") >= 0) {
			return lanDone(c, ProtoUsenet)
		}
		return Exclude
	}
	for _, k := range [...]string{"mode reader", "authinfo user", "authinfo pass", "capabilities\r\n", "group ", "article ", "list newsgroups"} {
		if ascii.HasPrefix(b, k) && hasPort(c, 119) {
			return lanDone(c, ProtoUsenet)
		}
	}
	if c.Payloads(ToClient) == 0 && c.Payloads(ToServer) == 1 {
		return Continue // the greeting may still come
	}
	return Exclude
}
