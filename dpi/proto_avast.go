package dpi

import (
	"ips/dpi/dnsmsg"

	"ips/internal/ascii"
)

// Avast's own protocols, as nDPI names them.

// dissectAvastSecureDNS recognises Avast SecureDNS: DNS messages (RFC 1035
// §4) sent to Avast's resolvers on a port other than 53 (UDP 443), asking
// for the DNSCrypt certificate under securedns.avast.com with 0x20 random
// case. A DNS-shaped datagram whose question is under that domain is the
// signature; anything else is not this protocol.
func dissectAvastSecureDNS(c *Ctx) Status {
	if len(c.Payload) < dnsmsg.HeaderLen+len("securedns.avast.com") {
		return Exclude
	}
	var m dnsmsg.Message
	if m.Parse(c.Payload) != nil || !m.HasQuestion {
		return Exclude
	}
	if !ascii.HasSuffix(m.Name.Bytes(), ".securedns.avast.com") && !ascii.HasSuffix(m.Name.Bytes(), "securedns.avast.com") {
		return Exclude
	}
	c.Set(ProtoAVASTSecureDNS, 0)
	return Done
}

// dissectAvast recognises the framing of Avast's update/licensing
// channel on TCP: every message starts with "NOSA" and a 16-bit total
// length that must match the segment.
func dissectAvast(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 || !hasPrefix(b, "NOSA") {
		return Exclude
	}
	if n := int(be16(b, 4)); n < 8 || n > len(b) {
		return Exclude
	}
	c.Set(ProtoAVAST, 0)
	return Done
}
