package dpi

// Short Message Peer-to-Peer (SMPP v3.4 §3.2, v5.0 §3.2): a PDU header of
// four big-endian words — command length (the whole PDU), command id
// (requests 0x00000001..0x00000112, responses with the top bit set),
// command status (zero in requests) and a sequence number.
func dissectSMPP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 16 || int(be32(b, 0)) != len(b) {
		return Exclude
	}
	id, status, seq := be32(b, 4), be32(b, 8), be32(b, 12)
	req := id &^ 0x80000000
	switch {
	case req >= 1 && req <= 9, req == 0x0b, req == 0x15, req == 0x21, req == 0x102, req == 0x103, req >= 0x111 && req <= 0x113:
	default:
		return Exclude
	}
	if seq == 0 || seq > 0x7fffffff || (id&0x80000000 == 0 && status != 0) {
		return Exclude
	}
	return lanDone(c, ProtoSMPP)
}
