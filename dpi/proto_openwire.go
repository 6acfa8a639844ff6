package dpi

// ActiveMQ OpenWire (activemq.apache.org "OpenWire Version 2
// Specification"): commands are a 32-bit size and a type byte; the first
// on a connection is WIREFORMAT_INFO (type 1) whose body starts with the
// magic "ActiveMQ".
func dissectOpenWire(c *Ctx) Status {
	b := c.Payload
	if len(b) < 13 || b[4] != 1 || !hasPrefix(b[5:], "ActiveMQ") || int(be32(b, 0)) > len(b)-4+1<<20 {
		return Exclude
	}
	return lanDone(c, ProtoOpenWire)
}
