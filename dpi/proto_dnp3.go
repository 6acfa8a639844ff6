package dpi

// DNP3 over TCP or UDP (IEEE 1815-2012 §9.2.4): every link-layer frame
// starts with 0x05 0x64, a length of at least 5 (control, destination,
// source and user data, without CRCs), a control byte and two addresses,
// then a CRC.
func dissectDNP3(c *Ctx) Status {
	b := c.Payload
	if len(b) < 10 || b[0] != 0x05 || b[1] != 0x64 || b[2] < 5 {
		return Exclude
	}
	return lanDone(c, ProtoDNP3)
}
