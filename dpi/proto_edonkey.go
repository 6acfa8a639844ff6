package dpi

// eDonkey/eMule over TCP. Every message is framed the same way: a protocol
// byte (0xE3 eDonkey, 0xC5 eMule extensions, 0xD4 zlib-packed eMule), a
// little-endian 32-bit length counting the opcode and the data, then the
// opcode. A client's Hello (opcode 0x01, then the size of the user hash,
// 16) framed to the exact segment length is unmistakable on its own; any
// other well-framed message needs a well-framed answer.

type edonkeyState struct {
	seen uint8 // bit per direction: a well-framed message was seen
}

const (
	edonkeyProto   = 0xE3
	emuleProto     = 0xC5
	emulePacked    = 0xD4
	edonkeyMaxBody = 1 << 21 // far above any control message
)

func dissectEDonkey(c *Ctx) Status {
	st := &c.s.p2p.edonkey
	if st.seen&(1<<c.Dir) != 0 {
		// Later segments of this direction may continue a long message;
		// only the first one of each direction is judged.
		if c.Payloads(c.Dir) > 3 {
			return Exclude
		}
		return Continue
	}
	p := c.Payload
	if len(p) < 6 || (p[0] != edonkeyProto && p[0] != emuleProto && p[0] != emulePacked) {
		return Exclude
	}
	n := le32(p, 1)
	if n == 0 || n > edonkeyMaxBody || int(n) < len(p)-5 {
		// The first message of a segment either fills it or spans several.
		return Exclude
	}
	if p[0] == edonkeyProto && p[5] == 0x01 && int(n) == len(p)-5 && len(p) >= 7 && p[6] == 16 {
		c.Set(ProtoEDonkey, 0) // Hello with a 16-byte user hash
		return Done
	}
	st.seen |= 1 << c.Dir
	if st.seen == 3 {
		c.Set(ProtoEDonkey, 0)
		return Done
	}
	return Continue
}
