package dpi

// VNC's Remote Framebuffer protocol (RFC 6143 §7.1.1): the server opens
// with a 12-byte ProtocolVersion "RFB xxx.yyy\n" and the client answers
// with its own. Like nDPI, the flow is named on the banner and confirmed
// by the answer, and flagged as a desktop sharing session.
func dissectVNC(c *Ctx) Status {
	b := c.Payload
	if c.s.lan.vnc != 0 {
		return Done
	}
	if len(b) != 12 || !hasPrefix(b, "RFB ") || b[7] != '.' || b[11] != '\n' {
		return Exclude
	}
	for _, i := range [...]int{4, 5, 6, 8, 9, 10} {
		if b[i] < '0' || b[i] > '9' {
			return Exclude
		}
	}
	c.s.lan.vnc = 1
	lanSet(c, ProtoVNC, 0)
	c.AddRisk(RiskDesktopOrFileSharing)
	c.Pending(FieldMeta)
	return More
}
