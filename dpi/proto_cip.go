package dpi

// CIP class 0/1 I/O over UDP 2222 (ODVA EtherNet/IP, CIP Vol. 2 §2-6):
// each datagram is a Common Packet Format list — a little-endian item
// count, then items of type and length: a sequenced (0x8002) or connected
// (0x00a1) address item and a connected data item (0x00b1) — that fills
// the datagram.
func dissectCIP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 10 || !hasPort(c, 2222) {
		return Exclude
	}
	n := int(le16(b, 0))
	if n < 2 || n > 4 {
		return Exclude
	}
	off := 2
	for i := 0; i < n; i++ {
		if off+4 > len(b) {
			return Exclude
		}
		t := le16(b, off)
		if i == 0 && t != 0x8002 && t != 0x00a1 && t != 0x0000 {
			return Exclude
		}
		off += 4 + int(le16(b, off+2))
	}
	if off != len(b) {
		return Exclude
	}
	return lanDone(c, ProtoCIP)
}
