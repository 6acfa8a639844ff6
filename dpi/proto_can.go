package dpi

// CAN frames tunnelled over IP as nDPI recognises them: a header that
// starts with the ASCII magic "ISO11898", then a version (1) and a frame
// type. The magic is specific enough to need no port.
func dissectCAN(c *Ctx) Status {
	b := c.Payload
	if len(b) < 10 || !hasPrefix(b, "ISO11898") || b[8] != 1 {
		return Exclude
	}
	return lanDone(c, ProtoControllerAreaNetwork)
}
