package dpi

// Munin node protocol (munin-node, TCP 4949): the node greets with
// "# munin node at <hostname>".
func dissectMunin(c *Ctx) Status {
	if !hasPrefix(c.Payload, "# munin node at ") {
		return Exclude
	}
	return lanDone(c, ProtoMunin)
}
