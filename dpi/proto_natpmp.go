package dpi

// NAT Port Mapping Protocol (RFC 6886 §3): version 0, an opcode (0
// external address, 1 UDP and 2 TCP mapping; responses add 128), each with
// a fixed size. Requests go to the gateway's port 5351.
func dissectNATPMP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 2 || !hasPort(c, 5351) || b[0] != 0 {
		return Exclude
	}
	want := 0
	switch b[1] {
	case 0:
		want = 2
	case 1, 2:
		want = 12
	case 128:
		want = 12
	case 129, 130:
		want = 16
	}
	if want == 0 || len(b) != want {
		return Exclude
	}
	return lanDone(c, ProtoNATPMP)
}
