package dpi

// NFS over ONC RPC (RFC 5531 §9, RFC 1813, RFC 7530): a call carries a
// transaction id, message type 0, RPC version 2, the program (NFS is
// 100003, its MOUNT protocol 100005), version and procedure. Over TCP a
// record mark (last-fragment bit and length) comes first.
func dissectNFS(c *Ctx) Status {
	b := c.Payload
	if c.L4() == IPProtoTCP {
		if len(b) < 4+24 || b[0]&0x80 == 0 || int(be32(b, 0)&0x7fffffff) < len(b)-4 {
			return Exclude
		}
		b = b[4:]
	}
	if len(b) < 24 || be32(b, 4) != 0 || be32(b, 8) != 2 {
		return Exclude
	}
	switch prog, vers := be32(b, 12), be32(b, 16); {
	case prog == 100003 && vers >= 2 && vers <= 4:
	case prog == 100005 && vers >= 1 && vers <= 3:
	default:
		return Exclude
	}
	return lanDone(c, ProtoNFS)
}
