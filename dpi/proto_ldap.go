package dpi

// LDAP (RFC 4511 §4.1.1) over TCP and connectionless LDAP over UDP (RFC
// 1798): an LDAPMessage SEQUENCE with an INTEGER message id and a
// protocolOp whose [APPLICATION n] tag names the operation: bind request
// 0 (0x60), bind response 1, unbind 2 (0x42, primitive), search request 3,
// entries and results 4..5, modify 6..7, add 8..9, delete 10..11 (0x4a
// primitive request), modify DN 12..13, compare 14..15, abandon 16 (0x50),
// search reference 19, extended 23..25.
func dissectLDAP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 7 || b[0] != 0x30 {
		return Exclude
	}
	_, s, n, ok := berTLV(b, 0)
	if !ok || n < 5 || (c.L4() == IPProtoUDP && s+n != len(b)) {
		return Exclude
	}
	id, off, ok := berInt(b, s)
	if !ok || id < 0 || off >= len(b) {
		return Exclude
	}
	switch op := b[off]; {
	case op >= 0x60 && op <= 0x6f, op == 0x73, op == 0x77, op == 0x78, op == 0x79:
	case op == 0x42, op == 0x4a, op == 0x50:
	default:
		return Exclude
	}
	return lanDone(c, ProtoLDAP)
}
