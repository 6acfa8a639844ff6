package dpi

// BGP-4 (RFC 4271 §4.1): every message starts with a 16-byte marker of
// all ones, a length (19..4096; 65535 with RFC 8654) and a type: OPEN 1,
// UPDATE 2, NOTIFICATION 3, KEEPALIVE 4, ROUTE-REFRESH 5.
func dissectBGP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 19 || be32(b, 0) != 0xffffffff || be32(b, 4) != 0xffffffff ||
		be32(b, 8) != 0xffffffff || be32(b, 12) != 0xffffffff {
		return Exclude
	}
	if n := be16(b, 16); n < 19 || b[18] < 1 || b[18] > 5 {
		return Exclude
	}
	return lanDone(c, ProtoBGP)
}
