package dpi

// Precision Time Protocol version 2 (IEEE 1588-2008 §13.3): the low nibble
// of the first byte is the message type (0..3 event, 8..13 general), the
// low nibble of the second the version (2), then the message length.
func dissectPTPv2(c *Ctx) Status {
	b := c.Payload
	if len(b) < 34 || (!hasPort(c, 319) && !hasPort(c, 320)) || b[1]&0x0f != 2 {
		return Exclude
	}
	if t := b[0] & 0x0f; t > 3 && (t < 8 || t > 13) {
		return Exclude
	}
	if n := int(be16(b, 2)); n < 34 || n > len(b) {
		return Exclude
	}
	return lanDone(c, ProtoPTPv2)
}
