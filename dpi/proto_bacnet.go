package dpi

// BACnet/IP (ASHRAE 135 Annex J.2): every datagram starts with the BACnet
// Virtual Link Control header — type 0x81, a function (0x00..0x0b) and a
// length of the whole datagram — usually followed by an NPDU of version 1.
func dissectBACnet(c *Ctx) Status {
	b := c.Payload
	if len(b) < 4 || b[0] != 0x81 || b[1] > 0x0b || int(be16(b, 2)) != len(b) {
		return Exclude
	}
	p := c.Pkt
	std := (p.SrcPort >= 47808 && p.SrcPort <= 47823) || (p.DstPort >= 47808 && p.DstPort <= 47823)
	if !std && !(len(b) > 4 && (b[1] == 0x0a || b[1] == 0x0b) && b[4] == 1) {
		return Exclude
	}
	return lanDone(c, ProtoBACnet)
}
