package dpi

import "bytes"

// DCE/RPC (The Open Group C706 §12.5 connectionless, §12.6
// connection-oriented). Connectionless PDUs (UDP) start with version 4, a
// packet type (0..10), two flag bytes, the data representation (byte
// order in the high nibble of the first byte) and an 80-byte header that
// names the interface UUID at offset 24. Connection-oriented PDUs (TCP)
// start with version 5.0, a packet type (0..19), flags, the data
// representation and a fragment length covering the PDU. nDPI names the
// PROFINET IO interfaces (DEA0000x-6C97-11D1-8271-00A02442DF7D, IEC 61158-6-10)
// DCERPC.PROFINET_IO.
func dissectDCERPC(c *Ctx) Status {
	b := c.Payload
	if c.L4() == IPProtoUDP {
		if len(b) < 80 || b[0] != 4 || b[1] > 10 || (b[4] != 0x00 && b[4] != 0x10) {
			return Exclude
		}
		var app ProtoID
		if pnioInterface(b[24:40], b[4] == 0x10) {
			app = ProtoPROFINETIO
		} else if !hasPort(c, 135) {
			return Exclude
		}
		lanSet(c, ProtoDCERPC, app)
		return Done
	}
	if len(b) < 16 || b[0] != 5 || b[1] > 1 || b[2] > 19 || (b[4] != 0x00 && b[4] != 0x10) {
		return Exclude
	}
	n := int(be16(b, 8))
	if b[4] == 0x10 {
		n = int(le16(b, 8))
	}
	if n < 16 {
		return Exclude
	}
	// Away from the endpoint mapper a connection opens with a bind, an
	// alter-context or their acknowledgements, one whole PDU.
	if !hasPort(c, 135) && !(n == len(b) && b[2] >= 11 && b[2] <= 15) {
		return Exclude
	}
	return lanDone(c, ProtoDCERPC)
}

// pnioInterface reports whether u is one of the PROFINET IO interface
// UUIDs (device, controller, supervisor, parameter server), in the
// packet's byte order.
func pnioInterface(u []byte, little bool) bool {
	var want [16]byte
	if little {
		want = [16]byte{0x00, 0x00, 0xa0, 0xde, 0x97, 0x6c, 0xd1, 0x11, 0x82, 0x71, 0x00, 0xa0, 0x24, 0x42, 0xdf, 0x7d}
		return len(u) == 16 && u[0] >= 1 && u[0] <= 4 && bytes.Equal(u[1:], want[1:])
	}
	want = [16]byte{0xde, 0xa0, 0x00, 0x00, 0x6c, 0x97, 0x11, 0xd1, 0x82, 0x71, 0x00, 0xa0, 0x24, 0x42, 0xdf, 0x7d}
	return len(u) == 16 && u[3] >= 1 && u[3] <= 4 && bytes.Equal(u[:3], want[:3]) && bytes.Equal(u[4:], want[4:])
}
