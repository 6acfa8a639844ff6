package dpi

// Dropbox LAN sync discovery (UDP 17500): broadcasts between clients on
// port 17500 carry a JSON announcement with a "host_int" key; commands to
// a client's port 17500 from another port carry the "Bus17Cmd" marker.
func dissectDropbox(c *Ctx) Status {
	b := c.Payload
	p := c.Pkt
	if len(b) <= 10 || !hasPort(c, 17500) {
		return Exclude
	}
	if p.DstPort != 17500 {
		return Continue // a reply; the next request decides
	}
	if p.SrcPort == 17500 {
		if index(b, `"host_int"`) >= 0 {
			return lanDone(c, ProtoDropbox)
		}
	} else if index(b, "Bus17Cmd") >= 0 {
		return lanDone(c, ProtoDropbox)
	}
	return Exclude
}
