package dpi

// sFlow version 5 datagrams (sflow.org sflow_version_5.txt, "sample_datagram_v5"):
// version 5, the agent address type (1 IPv4, 2 IPv6) and address, a
// sub-agent id, sequence number, uptime and the number of samples.
func dissectSFlow(c *Ctx) Status {
	b := c.Payload
	if len(b) < 28 || !hasPort(c, 6343) || be32(b, 0) != 5 {
		return Exclude
	}
	switch be32(b, 4) {
	case 1:
	case 2:
		if len(b) < 40 {
			return Exclude
		}
	default:
		return Exclude
	}
	return lanDone(c, ProtoSFlow)
}
