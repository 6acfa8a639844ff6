package dpi

// Apache JServ Protocol 1.3 (tomcat.apache.org ajpv13a): packets from the
// web server start with 0x1234 and a length of the rest, then a prefix
// code: forward request 2, shutdown 7, ping 8, CPing 10. The container's
// packets start with "AB": send body chunk 3, send headers 4, end
// response 5, get body chunk 6, CPong 9.
func dissectAJP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 5 || int(be16(b, 2)) > len(b)-4 || be16(b, 2) == 0 {
		return Exclude
	}
	switch {
	case b[0] == 0x12 && b[1] == 0x34:
		switch b[4] {
		case 2, 7, 8, 10:
			return lanDone(c, ProtoAJP)
		}
	case b[0] == 'A' && b[1] == 'B':
		switch b[4] {
		case 3, 4, 5, 6, 9:
			return lanDone(c, ProtoAJP)
		}
	}
	return Exclude
}
