package dpi

// NATS client protocol (docs.nats.io "Client Protocol"): the server opens
// with INFO and a JSON object (with "server_id"), the client answers
// CONNECT with a JSON object.
func dissectNats(c *Ctx) Status {
	b := c.Payload
	switch {
	case hasPrefix(b, "INFO {") && index(b, `"server_id"`) > 0:
	case hasPrefix(b, "CONNECT {") && (index(b, `"verbose"`) > 0 || index(b, `"pedantic"`) > 0):
	default:
		return Exclude
	}
	return lanDone(c, ProtoNats)
}
