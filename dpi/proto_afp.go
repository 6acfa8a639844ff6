package dpi

// Apple Filing Protocol over the Data Stream Interface (Apple "AFP
// Programming Guide", DSI header): flags (0 request, 1 reply), a command
// (CloseSession 1 .. Attention 8), a request id, an error code or data
// offset, the length of the data after the 16-byte header, and a
// reserved zero word.
func dissectAFP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 16 || b[0] > 1 || b[1] < 1 || b[1] > 8 || be32(b, 12) != 0 {
		return Exclude
	}
	n := int(be32(b, 8))
	if n != len(b)-16 && !(hasPort(c, 548) && n > len(b)-16 && n < 1<<20) {
		return Exclude
	}
	return lanDone(c, ProtoAFP)
}
