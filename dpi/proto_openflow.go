package dpi

// OpenFlow (ONF TS-025 §7.1): every message starts with the version
// (0x01..0x06), a type, the message length and a transaction id. A
// connection opens with HELLO (type 0) from both ends.
func dissectOpenFlow(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 || b[0] < 1 || b[0] > 6 || int(be16(b, 2)) < 8 || int(be16(b, 2)) > len(b) {
		return Exclude
	}
	// The header is small: the OpenFlow ports and a HELLO are required.
	if b[1] != 0 || (!hasPort(c, 6653) && !hasPort(c, 6633)) {
		return Exclude
	}
	return lanDone(c, ProtoOpenFlow)
}
