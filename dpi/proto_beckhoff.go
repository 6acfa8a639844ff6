package dpi

// Beckhoff ADS over TCP 48898 (Beckhoff Information System, "AMS/TCP
// Packet"): a 6-byte AMS/TCP header (two reserved zero bytes and a
// little-endian length of the rest), then the 32-byte AMS header — target
// and source AMS NetId and port, command id (0..9), state flags and the
// length of the data that follows.
func dissectBeckhoffADS(c *Ctx) Status {
	b := c.Payload
	if len(b) < 38 || b[0] != 0 || b[1] != 0 || int(le32(b, 2)) != len(b)-6 {
		return Exclude
	}
	if le16(b, 22) > 9 || int(le32(b, 26)) != len(b)-38 {
		return Exclude
	}
	return lanDone(c, ProtoBeckhoffADS)
}
