package dpi

// KNXnet/IP (ISO 22510, KNX 03.08.02 §2.3): a 6-byte header — header
// length 6, protocol version 0x10 (or 0x20 for secure), a service type
// (0x0201..0x0954 families) and the total length.
func dissectKNX(c *Ctx) Status {
	b := c.Payload
	if len(b) < 6 || b[0] != 6 || (b[1] != 0x10 && b[1] != 0x20) || int(be16(b, 4)) != len(b) {
		return Exclude
	}
	if st := be16(b, 2); st < 0x0201 || st > 0x0f00 {
		return Exclude
	}
	return lanDone(c, ProtoKNXnetIP)
}
