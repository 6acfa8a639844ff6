package dpi

import "encoding/binary"

// Telephony signalling besides SIP and MGCP.

// dissectH323: H.323 call signalling (H.225.0 over TPKT, RFC 1006: version
// 3, a length covering the packet, then Q.931 with protocol discriminator
// 8 and a call reference of at most 3 bytes), H.245 over TPKT, and H.225.0
// RAS on UDP port 1719 (the PER-encoded H.225.0 protocol identifier OID).
func dissectH323(c *Ctx) Status {
	b := c.Payload
	if len(b) > 20 && b[0] == 3 && b[1] == 0 && int(binary.BigEndian.Uint16(b[2:])) == len(b) {
		if (b[7] == 0x06 && binary.BigEndian.Uint32(b[8:]) == 0x00088175) || // H.245 protocol identifier
			(b[4] == 0x08 && b[5]&0x0F <= 3) { // Q.931
			c.Set(ProtoH323, 0)
			return Done
		}
		return Exclude
	}
	if c.L4() == IPProtoUDP && (c.ServerPort() == 1719 || c.ClientPort() == 1719) &&
		len(b) > 20 && b[4] == 0x06 && binary.BigEndian.Uint32(b[5:]) == 0x0008914A {
		c.Set(ProtoH323, 0)
		return Done
	}
	return Exclude
}

// dissectIAX: IAX2 (RFC 5456 §8.1.1) full frames: the F bit and source
// call number, destination call number, timestamp, sequence numbers, frame
// type 6 (IAX control) with a known subclass (§8.4), then information
// elements (§8.6: type, length, data) that end exactly with the datagram.
func dissectIAX(c *Ctx) Status {
	b := c.Payload
	if len(b) < 12 || b[0]&0x80 == 0 || b[10] != 6 || b[11]&0x80 != 0 || b[11] == 0 || b[11] > 0x22 {
		return Exclude
	}
	off := 12
	for off < len(b) {
		if off+2 > len(b) {
			return Exclude
		}
		off += 2 + int(b[off+1])
	}
	if off != len(b) {
		return Exclude
	}
	c.Set(ProtoIAX, 0)
	return Done
}

// dissectBFCP: the Binary Floor Control Protocol (RFC 8855 §5.1; RFC 4582
// for version 1): version 1 or 2, three reserved zero bits, a primitive
// 1-17, a payload length in 4-byte words, the conference id, a
// transaction id and a user id. Two messages of the same conference name
// the flow.
//
// RFC 8855 §5.1 lets the version be 1 over TCP and 2 over UDP.
func dissectBFCP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 12 {
		return Exclude
	}
	// The payload length is not checked: BFCP over TCP may split or
	// join messages.
	if v := b[0] >> 5; (v != 1 && v != 2) || b[0]&0x07 != 0 || b[1] < 1 || b[1] > 17 {
		return Exclude
	}
	conf := binary.BigEndian.Uint32(b[4:])
	st := &c.s.realtime.bfcp
	if !st.seen {
		st.seen, st.conf = true, conf
		return Continue
	}
	if st.conf != conf {
		return Exclude
	}
	c.Set(ProtoBFCP, 0)
	return Done
}

// bfcpState is BFCP's per-flow state.
type bfcpState struct {
	seen bool
	conf uint32
}

// dissectSkinny: Cisco's SCCP on TCP port 2000. Each message has a
// little-endian length (of what follows the 8-byte header), a header
// version (0 basic, 0x11-0x17 for CallManager 7 and later) and a message
// id; the messages must tile the segment.
func dissectSkinny(c *Ctx) Status {
	if c.ServerPort() != 2000 && c.ClientPort() != 2000 {
		return Exclude
	}
	b := c.Payload
	if len(b) < 12 {
		return Exclude
	}
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			return Exclude
		}
		n := uint64(binary.LittleEndian.Uint32(b[off:]))
		ver := binary.LittleEndian.Uint32(b[off+4:])
		id := binary.LittleEndian.Uint32(b[off+8:])
		if n < 4 || n > uint64(len(b)-off-8) || (ver != 0 && (ver < 0x11 || ver > 0x17)) || (id > 0x1ff && (id < 0x8000 || id > 0x81ff)) {
			return Exclude
		}
		off += 8 + int(n)
	}
	c.Set(ProtoCiscoSkinny, 0)
	return Done
}
