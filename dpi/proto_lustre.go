package dpi

// Lustre's LNet over TCP (port 988; lnet/include/uapi/linux/lnet/lnet-idl.h):
// a connection opens with the acceptor magic 0xacce7100 or the socklnd
// hello magic 0x45726963 ("Eric"), little-endian; socklnd messages then
// start with their type (0xc0 noop, 0xc1 LNet message) and carry the
// source and destination NIDs (an address and the network type).
func dissectLustre(c *Ctx) Status {
	b := c.Payload
	if len(b) < 16 {
		return Exclude
	}
	switch m := le32(b, 0); {
	case m == 0xacce7100, m == 0x45726963:
		return lanDone(c, ProtoLustre)
	case (b[0] == 0xc0 || b[0] == 0xc1) && hasPort(c, 988) && len(b) >= 40 && b[1] == 0 && b[2] == 0 && b[3] == 0:
		return lanDone(c, ProtoLustre)
	}
	return Exclude
}
