package dpi

// The rsync daemon protocol (rsync "rsyncd.conf", protocol greeting):
// both sides open with "@RSYNCD: " and a protocol version.
func dissectRSYNC(c *Ctx) Status {
	if !hasPrefix(c.Payload, "@RSYNCD: ") {
		return Exclude
	}
	return lanDone(c, ProtoRSYNC)
}
