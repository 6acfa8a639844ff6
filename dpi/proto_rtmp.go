package dpi

// RTMP (Adobe RTMP Specification 1.0 §5.2): the client opens with C0, the
// version byte 3 (6 for RTMPE), and C1: 1536 bytes, a timestamp then four
// zero bytes then random data. C0 and C1 usually share the first segment.
func dissectRTMP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 9 || (b[0] != 3 && b[0] != 6) || c.Dir != ToServer {
		return Exclude
	}
	if len(b) != 1537 && !(len(b) >= 1200 && len(b) < 1537) {
		return Exclude
	}
	// Away from 1935 only the plain handshake, whose C1 has four zero
	// bytes after the timestamp, is specific enough.
	if !hasPort(c, 1935) && (b[0] != 3 || (b[5]|b[6]|b[7]|b[8]) != 0) {
		return Exclude
	}
	return lanDone(c, ProtoRTMP)
}
