package dpi

import (
	"bytes"

	"ips/internal/ascii"
)

// Gnutella (and its Gnutella2 and Mojito DHT offshoots).
//
// TCP: the 0.6 handshake is HTTP-like: the client sends
// "GNUTELLA CONNECT/0.6" and headers, the servent answers
// "GNUTELLA/0.6 200 OK".
//
// UDP, what nDPI recognises and why:
//   - Gnutella2 datagrams begin "GND" and a flags byte, then a sequence
//     number, the part number and the part count.
//   - gtk-gnutella (and LimeWire) carry the Mojito DHT inside Gnutella
//     messages: the 23-byte Gnutella header (16-byte GUID, function,
//     TTL, hops, little-endian payload length), function 0x44 ('D'), then
//     a Mojito opcode and the client's four-letter vendor code ("GTKG").
//     gnutella.pcap's 275 named UDP flows are these and "GND".
//   - Plain Gnutella pings over UDP (function 0x00 with a GGEP "QK"
//     query-key request) have the same GUID-shaped header but nothing
//     else distinctive; nDPI's snapshot leaves those flows Unknown, and so
//     does this dissector.
func dissectGnutella(c *Ctx) Status {
	p := c.Payload
	if c.L4() == IPProtoTCP {
		switch {
		case hasPrefix(p, "GNUTELLA CONNECT/"):
			if ua := httpHeader(p, "user-agent:"); len(ua) > 0 {
				c.Flow.Result.UserAgent = c.Intern(ua)
			}
		case hasPrefix(p, "GNUTELLA/0."):
		case hasPrefix(p, "GET /") || hasPrefix(p, "HEAD /"):
			// Normally the HTTP dissector owns these and names them with
			// gnutellaHTTPRequest; this is the fallback when it did not.
			return gnutellaHTTP(c, p)
		default:
			return Exclude
		}
		c.Set(ProtoGnutella, 0)
		return Done
	}
	if gnutella2(p) || mojito(p) {
		c.Set(ProtoGnutella, 0)
		return Done
	}
	return Exclude
}

// gnutella2 checks a G2 UDP datagram header: "GND", flags (deflate and
// acknowledge-me bits, and the 0x10 that gtk-gnutella sets), a 16-bit
// sequence number, part number and part count (0 in acknowledgements).
func gnutella2(p []byte) bool {
	if len(p) < 8 || !hasPrefix(p, "GND") || p[3]&^0x13 != 0 {
		return false
	}
	part, count := p[6], p[7]
	if count == 0 { // an acknowledgement: header only
		return len(p) == 8 && part >= 1
	}
	return part >= 1 && part <= count && len(p) > 8
}

// mojito checks a Gnutella message header carrying a Mojito DHT message.
func mojito(p []byte) bool {
	if len(p) < 30 || p[16] != 0x44 || le32(p, 19) != uint32(len(p)-23) {
		return false
	}
	if op := p[23]; op == 0 || op > 0x0f {
		return false
	}
	for _, ch := range p[24:28] { // vendor code: four capital letters
		if ch < 'A' || ch > 'Z' {
			return false
		}
	}
	return true
}

// httpHeader returns the value of the first header line starting with
// name (lower case, with its colon), trimmed; nil when absent.
func httpHeader(p []byte, name string) []byte {
	for i := 0; i+1 < len(p); i++ {
		if p[i] != '\n' || !ascii.HasPrefix(p[i+1:], name) {
			continue
		}
		j := i + 1 + len(name)
		for j < len(p) && p[j] == ' ' {
			j++
		}
		k := j
		for k < len(p) && p[k] != '\r' && p[k] != '\n' {
			k++
		}
		return p[j:k]
	}
	return nil
}

// gnutellaHTTP names a servent's HTTP file request HTTP.Gnutella.
func gnutellaHTTP(c *Ctx, p []byte) Status {
	path := p[bytes.IndexByte(p, ' ')+1:]
	if end := bytes.IndexAny(path, " \r\n"); end >= 0 {
		path = path[:end]
	}
	ua := httpHeader(p, "user-agent:")
	if !gnutellaHTTPRequest(path, ua) {
		return Exclude
	}
	c.Set(ProtoHTTP, ProtoGnutella)
	if len(ua) > 0 {
		c.Flow.Result.UserAgent = c.Intern(ua)
	}
	if host := httpHeader(p, "host:"); len(host) > 0 {
		if i := bytes.LastIndexByte(host, ':'); i > 0 && bytes.IndexByte(host, ']') < i {
			host = host[:i] // drop the port
		}
		c.SetHostname(host)
	}
	return Done
}

// gnutellaHTTPRequest reports whether an HTTP request is a Gnutella
// servent's transfer: a HUGE URI-resolution path ("/uri-res/N2R?urn:sha1:…"),
// the Gnutella-specific "/gnutella/" tree (THEX hash trees, push proxies),
// or the legacy "/get/<index>/<name>" path from a servent's User-Agent.
// The HTTP dissector owns such flows; it may call this to name them
// HTTP.Gnutella as nDPI does.
func gnutellaHTTPRequest(path, userAgent []byte) bool {
	switch {
	case hasPrefix(path, "/uri-res/"), hasPrefix(path, "/gnutella/"):
		return true
	case hasPrefix(path, "/get/"):
		for _, s := range gnutellaAgents {
			if ascii.HasPrefix(userAgent, s) {
				return true
			}
		}
	}
	return false
}

// gnutellaAgents are lower-case User-Agent prefixes of Gnutella servents.
var gnutellaAgents = [...]string{"gtk-gnutella", "shareaza", "limewire", "bearshare", "phex", "frostwire", "gnucleus", "morpheus"}
