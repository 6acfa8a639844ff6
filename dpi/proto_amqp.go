package dpi

// AMQP: a connection starts with the 8-byte protocol header "AMQP" then
// protocol id and version — 0, 0, 9, 1 for AMQP 0-9-1 (§4.2.2), 1, 1, 0, 9
// for 0-9, or 0/2/3, 1, 0, 0 for AMQP 1.0 plain, TLS and SASL layers (OASIS
// AMQP 1.0 §2.2).
func dissectAMQP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 || !hasPrefix(b, "AMQP") {
		return Exclude
	}
	switch {
	case b[4] == 0 && b[5] == 0 && b[6] == 9 && b[7] <= 1,
		b[4] == 1 && b[5] == 1 && b[6] <= 9,
		b[4] <= 3 && b[5] == 1 && b[6] == 0 && b[7] == 0:
		return lanDone(c, ProtoAMQP)
	}
	return Exclude
}
