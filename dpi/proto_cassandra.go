package dpi

// Cassandra native protocol (native_protocol_v4.spec §2): a 9-byte frame
// header — version (3..5; the top bit marks responses), flags, stream,
// opcode, a 32-bit body length. Connections open with OPTIONS (5) or
// STARTUP (1).
func dissectCassandra(c *Ctx) Status {
	b := c.Payload
	if len(b) < 9 || b[0]&0x7f < 3 || b[0]&0x7f > 5 || b[1]&0xf0 != 0 || int(be32(b, 5)) != len(b)-9 {
		return Exclude
	}
	switch op := b[4]; {
	case b[0]&0x80 == 0 && (op == 1 || op == 5):
	case hasPort(c, 9042) && op <= 0x10:
	default:
		return Exclude
	}
	return lanDone(c, ProtoCassandra)
}
