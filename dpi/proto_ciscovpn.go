package dpi

// Cisco VPN client's UDP encapsulation between two port-10000 endpoints
// opens with a fixed 4-byte marker (FE 57 7E 2B), the one signature of it
// nDPI carries that is not a bare port match.

func dissectCiscoVPN(c *Ctx) Status {
	p := c.Payload
	if c.ServerPort() != 10000 || c.ClientPort() != 10000 || len(p) < 4 || be32(p, 0) != 0xfe577e2b {
		return Exclude
	}
	c.Set(ProtoCiscoVPN, 0)
	return Done
}
