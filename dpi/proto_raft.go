package dpi

// Raft as the canonical/raft library speaks it over TCP (used by dqlite):
// a connection opens with a handshake of three little-endian 64-bit words —
// protocol version 1, the server id and the length of the server address —
// followed by the address, NUL-padded to a multiple of eight bytes.
// Messages then carry a 64-bit type (1..8) and a 64-bit body length.
func dissectRaft(c *Ctx) Status {
	b := c.Payload
	if len(b) < 16 || b[4]|b[5]|b[6]|b[7] != 0 {
		return Exclude
	}
	v, id := le32(b, 0), b[8:16]
	if v == 1 && len(b) >= 32 {
		n := int(le32(b, 16))
		if id[4]|id[5]|id[6]|id[7] == 0 && le32(b, 20) == 0 && n > 2 && n <= 255 && 24+n <= len(b) {
			addr := trimNUL(b[24 : 24+n])
			if printable(addr) && index(addr, ":") > 0 && (24+n+7)&^7 == len(b) {
				return lanDone(c, ProtoRaft)
			}
		}
	}
	if v >= 1 && v <= 8 && le32(b, 12) == 0 && int(le32(b, 8))+16 == len(b) && hasPort(c, 9001) {
		return lanDone(c, ProtoRaft)
	}
	return Exclude
}
