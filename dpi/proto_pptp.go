package dpi

// PPTP control connection (RFC 2637 §2): every control message starts with
// its length, PPTP message type 1 (control), the magic cookie 0x1A2B3C4D,
// the control message type and two reserved zero bytes; each control
// message type has a fixed length. The tunnelled data goes in GRE, which
// the engine names by IP protocol.

const pptpMagic = 0x1A2B3C4D

// pptpLengths are the fixed lengths of control messages 1..15.
var pptpLengths = [16]uint16{0, 156, 156, 16, 16, 16, 20, 168, 32, 220, 24, 28, 16, 148, 32, 24}

func dissectPPTP(c *Ctx) Status {
	p := c.Payload
	if len(p) < 16 || be16(p, 2) != 1 || be32(p, 4) != pptpMagic {
		return Exclude
	}
	typ, n := be16(p, 8), be16(p, 0)
	if typ == 0 || typ > 15 || n != pptpLengths[typ] || be16(p, 10) != 0 {
		return Exclude
	}
	c.Set(ProtoPPTP, 0)
	return Done
}
