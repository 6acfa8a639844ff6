package dpi

// Checkmk agent (TCP 6556): the agent answers a connection with its
// section headers, starting with "<<<check_mk>>>".
func dissectCHECKMK(c *Ctx) Status {
	if !hasPrefix(c.Payload, "<<<check_mk>>>") {
		return Exclude
	}
	return lanDone(c, ProtoCHECKMK)
}
