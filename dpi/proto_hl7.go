package dpi

// HL7 version 2 over the Minimal Lower Layer Protocol (HL7 v2.x, MLLP
// Appendix C): a message is framed by a vertical tab (0x0b) and starts with
// its MSH segment, "MSH" followed by the field separator and the encoding
// characters ("MSH|^~\&").
func dissectHL7(c *Ctx) Status {
	b := c.Payload
	if len(b) < 9 || b[0] != 0x0b || !hasPrefix(b[1:], "MSH") || b[4] < 0x21 || b[4] > 0x7e {
		return Exclude
	}
	return lanDone(c, ProtoHL7)
}
