package dpi

import "ips/internal/ascii"

// Simple Service Discovery Protocol (UPnP Device Architecture 2.0 §1):
// HTTP-like requests over UDP, "M-SEARCH * HTTP/1.1" and
// "NOTIFY * HTTP/1.1", usually to 239.255.255.250:1900 or ff02::c; unicast
// search responses are "HTTP/1.1 200 OK" from port 1900. nDPI reports the
// HOST header as the flow's hostname and the USER-AGENT header.
func dissectSSDP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 16 {
		return Exclude
	}
	switch {
	case hasPrefix(b, "M-SEARCH * HTTP/1."), hasPrefix(b, "NOTIFY * HTTP/1."):
	case hasPrefix(b, "HTTP/1.1 200 OK\r\n") && c.Pkt.SrcPort == 1900:
	default:
		return Exclude
	}
	lanSet(c, ProtoSSDP, 0)
	if v := headerValue(b, "host"); len(v) > 0 {
		// The Host of SSDP names a multicast group, not a server: it is
		// reported as sent, port included (as nDPI does).
		c.setHostname(c.e.intern.lower(v))
	}
	if v := headerValue(b, "user-agent"); len(v) > 0 {
		c.Flow.Result.UserAgent = c.Intern(v)
	}
	return Done
}

// headerValue returns the trimmed value of the first "name:" header line of
// an HTTP-like message (name in lower case), or nil.
func headerValue(b []byte, name string) []byte {
	for len(b) > 0 {
		end := index(b, "\n")
		line := b
		if end >= 0 {
			line, b = b[:end], b[end+1:]
		} else {
			b = nil
		}
		if len(line) > len(name) && line[len(name)] == ':' && ascii.HasPrefix(line, name) {
			return trimSpace(line[len(name)+1:])
		}
	}
	return nil
}

// trimSpace trims ASCII spaces, tabs and line ends.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}
