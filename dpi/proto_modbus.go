package dpi

// Modbus/TCP (Modbus Messaging on TCP/IP Implementation Guide v1.0b
// §3.1.3): the MBAP header — transaction id, protocol id 0, a length of
// the unit id and PDU — then the unit id and a function code (1..127, or
// an exception with the high bit set). The header is weak, so port 502 is
// required on one side.
func dissectModbus(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 || !hasPort(c, 502) || be16(b, 2) != 0 || int(be16(b, 4)) != len(b)-6 {
		return Exclude
	}
	if fc := b[7] & 0x7f; fc == 0 {
		return Exclude
	}
	return lanDone(c, ProtoModbus)
}
