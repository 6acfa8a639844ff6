package dpi

import "ips/internal/ascii"

// Telnet (RFC 854): option negotiation starts sessions, an IAC byte (255)
// followed by WILL, WONT, DO or DONT (251..254) and an option code. A
// packet made only of such commands (and subnegotiations, IAC SB ... IAC
// SE) is a telnet negotiation. nDPI rates telnet unsafe; the login that
// follows travels in clear.
func dissectTelnet(c *Ctx) Status {
	b := c.Payload
	if c.s.lan.telnet != 0 {
		// Classified: a password prompt answered means clear credentials.
		if c.Dir == ToClient && ascii.Index(b, "password") >= 0 {
			c.s.lan.telnet = 2
		} else if c.Dir == ToServer && c.s.lan.telnet == 2 {
			c.AddRisk(RiskClearTextCredentials)
			return Done
		}
		return More
	}
	if len(b) < 3 || !telnetNegotiation(b) {
		return Exclude
	}
	c.s.lan.telnet = 1
	lanSet(c, ProtoTelnet, 0)
	c.Pending(FieldRisks)
	return More
}

func telnetNegotiation(b []byte) bool {
	i := 0
	for i < len(b) {
		if b[i] != 0xff || i+1 >= len(b) {
			return false
		}
		switch cmd := b[i+1]; {
		case cmd >= 251 && cmd <= 254:
			if i+2 >= len(b) {
				return false
			}
			i += 3
		case cmd == 250: // SB option ... IAC SE
			j := i + 2
			for j+1 < len(b) && !(b[j] == 0xff && b[j+1] == 240) {
				j++
			}
			if j+1 >= len(b) {
				return false
			}
			i = j + 2
		default:
			return false
		}
	}
	return true
}
