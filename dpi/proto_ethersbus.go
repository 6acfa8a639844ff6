package dpi

// Ether-S-Bus (SAIA-Burgess PCD over UDP 5050): a 32-bit length of the
// whole telegram, version (0 or 1), protocol type (0 or 1), a sequence
// number and a telegram attribute (request 0, response 1, ack 2).
func dissectEtherSBus(c *Ctx) Status {
	b := c.Payload
	if len(b) < 10 || !hasPort(c, 5050) {
		return Exclude
	}
	if int(be32(b, 0)) != len(b) || b[4] > 1 || b[5] > 1 || b[8] > 2 {
		return Exclude
	}
	return lanDone(c, ProtoEtherSBus)
}
