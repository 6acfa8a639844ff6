package dpi

// OPC UA binary transport (OPC 10000-6 §7.1.2): a three-letter message
// type (HEL, ACK, ERR, RHE, OPN, MSG, CLO), a chunk type ('F', 'C' or 'A')
// and a little-endian message size.
func dissectOPCUA(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 {
		return Exclude
	}
	switch string(b[:3]) {
	case "HEL", "ACK", "ERR", "RHE", "OPN", "MSG", "CLO":
	default:
		return Exclude
	}
	if b[3] != 'F' && b[3] != 'C' && b[3] != 'A' {
		return Exclude
	}
	n := int(le32(b, 4))
	if n < 8 || n > 1<<24 || (n != len(b) && !hasPort(c, 4840)) {
		return Exclude
	}
	return lanDone(c, ProtoOPCUA)
}
