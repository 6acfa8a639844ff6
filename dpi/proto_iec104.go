package dpi

// IEC 60870-5-104 (IEC 60870-5-104 §5.1): APDUs start with 0x68 and a
// length (4..253) of the control field and ASDU that follow. A segment
// holds one or more whole APDUs. The U-format control field of an
// unnumbered frame has its two low bits set and exactly one function bit.
func dissectIEC104(c *Ctx) Status {
	b := c.Payload
	if len(b) < 6 || b[0] != 0x68 {
		return Exclude
	}
	off := 0
	for off < len(b) {
		if off+6 > len(b) || b[off] != 0x68 {
			return Exclude
		}
		n := int(b[off+1])
		if n < 4 || n > 253 || off+2+n > len(b) {
			return Exclude
		}
		if ctl := b[off+2]; ctl&3 == 3 && n != 4 {
			return Exclude // U frames carry no ASDU
		}
		off += 2 + n
	}
	return lanDone(c, ProtoIEC60870)
}
