package dpi

// DNSCrypt (v2 protocol specification). Queries are encrypted behind an
// 8-byte client magic taken from the resolver's certificate, so they only
// have a size: the client magic, its 32-byte public key, a 12-byte nonce
// half and the padded, authenticated query, at least 256 bytes over UDP.
// Responses begin with the fixed resolver magic "r6fnvWj8". Over TCP each
// message has a 16-bit length prefix.

const dnscryptResolverMagic = "r6fnvWj8"

func dissectDNSCrypt(c *Ctx) Status {
	p := c.Payload
	if c.L4() == IPProtoTCP {
		if len(p) < 2 || int(be16(p, 0)) != len(p)-2 {
			return Exclude
		}
		p = p[2:]
	}
	// Response: resolver magic, nonce (24), then the encrypted answer with
	// its 16-byte authenticator. (Checked in either direction: a capture
	// may begin with an answer.)
	if len(p) >= 8+24+16 && hasPrefix(p, dnscryptResolverMagic) {
		c.Set(ProtoDNScrypt, 0)
		return Done
	}
	st := &c.s.p2p.dnscrypt
	if c.Dir != ToServer || *st != 0 {
		return Exclude
	}
	// client magic (8), client public key (32), nonce half (12), and at
	// least an authenticated padded query; UDP queries are padded to 256.
	if len(p) < 8+32+12+16 || (len(p) < 256 && c.L4() == IPProtoUDP) {
		return Exclude
	}
	*st = 1
	return Continue
}
