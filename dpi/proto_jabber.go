package dpi

// XMPP (RFC 6120 §4): a client-to-server or server-to-server connection
// opens an XML stream, "<stream:stream ... xmlns:stream=
// 'http://etherx.jabber.org/streams'" (often after an XML declaration),
// and then exchanges stanzas: <message>, <presence> and <iq>. A stream
// header names it anywhere; bare stanzas and a stream close identify a
// connection picked up mid-stream on the XMPP ports.
func dissectJabber(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 || b[0] != '<' {
		return Exclude
	}
	if hasPrefix(b, "<?xml") || hasPrefix(b, "<stream:stream") {
		if index(b, "jabber") >= 0 || index(b, "xmpp") >= 0 {
			if index(b, "im.truphone.com") >= 0 {
				return lanDone(c, ProtoTruPhone) // nDPI names TruPhone's XMPP service on its own
			}
			return lanDone(c, ProtoJabber)
		}
		if c.Payloads(ToServer)+c.Payloads(ToClient) < 4 {
			return Continue // a lone XML declaration: the stream header follows
		}
		return Exclude
	}
	if hasPort(c, 5222) || hasPort(c, 5269) {
		for _, k := range [...]string{"<presence", "<iq ", "<message ", "</stream:stream>", "<stream:features"} {
			if hasPrefix(b, k) {
				return lanDone(c, ProtoJabber)
			}
		}
	}
	return Exclude
}
