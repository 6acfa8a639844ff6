package dpi

// Check Point ClusterXL high-availability protocol (CPHA, UDP 8116): the
// packets start with the magic 0x1a90 followed by the protocol version.
func dissectCPHA(c *Ctx) Status {
	b := c.Payload
	if len(b) < 20 || c.Pkt.SrcPort != 8116 || c.Pkt.DstPort != 8116 || be16(b, 0) != 0x1a90 {
		return Exclude
	}
	return lanDone(c, ProtoCPHA)
}
