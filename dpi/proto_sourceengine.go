package dpi

import "encoding/binary"

// Source Engine server queries (Valve's A2S, developer.valvesoftware.com
// "Server queries"): every message starts with 0xFFFFFFFF and a type byte.
// Requests A2S_INFO 'T', A2S_PLAYER 'U', A2S_RULES 'V' come from the client;
// the challenge 'A' and the replies 'I', 'D', 'E' from the server.
func dissectSourceEngine(c *Ctx) Status {
	b := c.Payload
	if len(b) < 5 || binary.BigEndian.Uint32(b) != 0xFFFFFFFF {
		return Exclude
	}
	t := b[4]
	switch {
	case c.Dir == ToServer && len(b) > 8 && len(b) < 30 && (t == 'T' || t == 'U' || t == 'V'):
	case c.Dir == ToClient && len(b) == 9 && t == 'A':
	case c.Dir == ToClient && len(b) > 30 && (t == 'I' || t == 'D' || t == 'E'):
	default:
		return Exclude
	}
	c.Set(ProtoSourceEngine, 0)
	return Done
}
