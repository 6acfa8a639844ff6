package dpi

import "encoding/binary"

// Threema's chat protocol on TCP 5222: a fixed-size handshake (client
// hello 48 bytes, server hello 80, login 191), then frames prefixed by
// their little-endian length.
func dissectThreema(c *Ctx) Status {
	if c.ServerPort() != 5222 && c.ClientPort() != 5222 {
		return Exclude
	}
	b := c.Payload
	switch pktCount(c) {
	case 1:
		if len(b) != 48 {
			return Exclude
		}
		return Continue
	case 2:
		if len(b) != 80 {
			return Exclude
		}
		return Continue
	case 3:
		if len(b) != 191 {
			return Exclude
		}
		return Continue
	case 4:
		return Continue // the login ack's size varies
	}
	if len(b) < 2 || int(binary.LittleEndian.Uint16(b))+2 != len(b) {
		return Exclude
	}
	c.Set(ProtoThreema, 0)
	return Done
}
