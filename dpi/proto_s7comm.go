package dpi

// Siemens S7 communication over ISO-on-TCP (RFC 1006) on port 102: a TPKT
// header (3, 0, length), a COTP data TPDU (length 2, code 0xf0, EOT) and
// the S7 protocol id — 0x32 for S7comm, 0x72 for S7comm-plus.
func dissectS7Comm(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 || !hasPort(c, 102) || b[0] != 3 || b[1] != 0 || int(be16(b, 2)) != len(b) {
		return Exclude
	}
	if b[4] != 2 || b[5] != 0xf0 {
		return Exclude
	}
	switch b[7] {
	case 0x32:
		return lanDone(c, ProtoS7Comm)
	case 0x72:
		return lanDone(c, ProtoS7CommPlus)
	}
	return Exclude
}
