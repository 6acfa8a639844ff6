package dpi

// STOMP 1.x (stomp.github.io, 1.2 "Connecting"): the client opens with a
// CONNECT or STOMP frame (command line, then headers such as
// accept-version and host), the server answers CONNECTED with a version
// header.
func dissectSTOMP(c *Ctx) Status {
	b := c.Payload
	switch {
	case hasPrefix(b, "STOMP\n"), hasPrefix(b, "STOMP\r\n"), hasPrefix(b, "CONNECT\n"), hasPrefix(b, "CONNECT\r\n"):
		if index(b, "accept-version:") < 0 && index(b, "host:") < 0 && index(b, "login:") < 0 {
			return Exclude
		}
	case hasPrefix(b, "CONNECTED\n"), hasPrefix(b, "CONNECTED\r\n"):
		if index(b, "version:") < 0 {
			return Exclude
		}
	default:
		return Exclude
	}
	return lanDone(c, ProtoSTOMP)
}
