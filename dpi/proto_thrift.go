package dpi

// Apache Thrift. The strict binary protocol (thrift TBinaryProtocol)
// starts a message with 0x8001, a zero byte and the message type (1 call,
// 2 reply, 3 exception, 4 oneway), then the method name with a 32-bit
// length. The compact protocol (THRIFT-110) starts with 0x82, a byte of
// type (high three bits) and version 1, a varint sequence id and the
// method name with a varint length.
func dissectThrift(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 {
		return Exclude
	}
	switch {
	case b[0] == 0x80 && b[1] == 0x01 && b[2] == 0 && b[3] >= 1 && b[3] <= 4:
		n := int(be32(b, 4))
		if n > 0 && n <= 256 && 8+n <= len(b) && printable(b[8:8+n]) {
			return lanDone(c, ProtoThrift)
		}
	case b[0] == 0x82 && b[1]&0x1f == 1 && b[1]>>5 >= 1 && b[1]>>5 <= 4:
		off := 2
		for i := 0; i < 5 && off < len(b) && b[off]&0x80 != 0; i++ {
			off++
		}
		off++ // last byte of the sequence id
		if off >= len(b) {
			return Exclude
		}
		n := int(b[off])
		if n > 0 && n < 0x80 && off+1+n <= len(b) && printable(b[off+1:off+1+n]) {
			return lanDone(c, ProtoThrift)
		}
	}
	return Exclude
}
