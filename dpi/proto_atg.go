package dpi

// Automatic tank gauges speaking the Veeder-Root serial protocol over TCP
// (TLS-350 "Serial Interface Manual": computer format commands): a
// command is SOH, a function letter ('I' inquiry, 'S' set), a three-digit
// function code and a two-digit tank number, ended by a line end.
func dissectATG(c *Ctx) Status {
	b := c.Payload
	if len(b) < 9 || b[0] != 0x01 || (b[1] != 'I' && b[1] != 'S') {
		return Exclude
	}
	for i := 2; i < 7; i++ {
		if b[i] < '0' || b[i] > '9' {
			return Exclude
		}
	}
	if b[len(b)-1] != '\n' && b[len(b)-1] != 0x03 {
		return Exclude
	}
	return lanDone(c, ProtoATG)
}
