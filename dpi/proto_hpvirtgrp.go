package dpi

// HP Virtual Machine Group management, as nDPI recognises it: the first
// TCP payload is a record of type 0x16 whose 16-bit length (bytes 1..2)
// is the whole payload, followed by a zero byte. A TLS record has the
// version (0x0301..0x0304) there, which never equals the payload length
// of such a short first packet.
func dissectHPVIRTGRP(c *Ctx) Status {
	b := c.Payload
	if c.Payloads(ToServer)+c.Payloads(ToClient) != 1 {
		return Exclude
	}
	if len(b) < 4 || b[0] != 0x16 || int(be16(b, 1)) != len(b) || b[3] != 0 {
		return Exclude
	}
	return lanDone(c, ProtoHPVIRTGRP)
}
