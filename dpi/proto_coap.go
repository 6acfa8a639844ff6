package dpi

// Constrained Application Protocol (RFC 7252 §3): version 1 in the top
// two bits, type, a token length of at most 8, a code whose class is 0
// (request), 2, 4 or 5 (responses) and a message id. The header is small,
// so the CoAP ports are required.
func dissectCOAP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 4 || (!hasPort(c, 5683) && !hasPort(c, 5684)) {
		return Exclude
	}
	tkl := int(b[0] & 0x0f)
	if b[0]>>6 != 1 || tkl > 8 || 4+tkl > len(b) {
		return Exclude
	}
	switch class, detail := b[1]>>5, b[1]&0x1f; class {
	case 0:
		if detail > 7 {
			return Exclude
		}
	case 2, 4, 5:
	default:
		return Exclude
	}
	return lanDone(c, ProtoCOAP)
}
