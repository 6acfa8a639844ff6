package dpi

// Remote Desktop Protocol.
//
// Over TCP (MS-RDPBCGR §2.2.1.1, §2.2.1.2): a TPKT header (RFC 1006: 3, 0,
// length of the whole packet) carrying an X.224 Connection Request (code
// 0xE0) from the client, answered by a Connection Confirm (0xD0). When the
// confirm selects TLS or CredSSP (RDP_NEG_RSP, selectedProtocol != 0), the
// session continues in TLS and nDPI names it TLS.RDP.
//
// Over UDP (MS-RDPEUDP §2.2.2.1, §3.1.5.1.1): the client's SYN datagram
// carries snSourceAck -1 and the SYN flag, the server answers SYN+ACK.
// A flow picked up later is recognised by the sequence numbers each side
// acknowledges.
//
// Either way the flow is a desktop sharing session.
func dissectRDP(c *Ctx) Status {
	if c.L4() == IPProtoUDP {
		return rdpUDP(c)
	}
	b := c.Payload
	st := &c.s.lan.rdp
	switch *st {
	case 0:
		if len(b) < 11 || b[0] != 3 || b[1] != 0 || int(be16(b, 2)) != len(b) || int(b[4]) != len(b)-5 || b[5] != 0xe0 {
			return Exclude
		}
		lanSet(c, ProtoRDP, 0)
		c.AddRisk(RiskDesktopOrFileSharing)
		// An RDP_NEG_REQ (type 1, length 8) closes the request; when it
		// asks for TLS or CredSSP, the confirm decides whether TLS follows.
		if n := len(b); n >= 19 && b[n-8] == 1 && le16(b, n-6) == 8 && le32(b, n-4) != 0 {
			*st = 1
			c.Pending(FieldApp)
			return More
		}
		return Done
	case 1:
		if c.Dir != ToClient {
			return More
		}
		// Connection Confirm: a negotiation response (type 2) that
		// selects a security protocol means TLS comes next.
		if len(b) >= 19 && b[5] == 0xd0 && b[11] == 2 && le32(b, 15) != 0 {
			*st = 2
			return More
		}
		return Done
	case 2:
		if !tlsRecord(b) {
			return More
		}
		*st = 3
		fallthrough
	default:
		return lanTLS(c, ProtoTLS, ProtoRDP)
	}
}

func rdpUDP(c *Ctx) Status {
	b := c.Payload
	st := &c.s.lan
	if len(b) < 16 || !hasPort(c, 3389) {
		return Exclude
	}
	flags := be16(b, 6)
	if st.rdp == 1 { // SYN seen: the server answers SYN+ACK
		if c.Dir == ToClient && flags&0x0005 == 0x0005 {
			return lanRDP(c)
		}
		return Exclude
	}
	if be32(b, 0) == 0xffffffff && flags&0x0001 != 0 && flags&0x0004 == 0 && c.Dir == ToServer {
		st.rdp = 1
		return Continue
	}
	// Mid-session: each side acknowledges the other's sequence number
	// (snSourceAck at 0; snCoded/snSourceStart at 12 of a data packet).
	if flags&0x0004 == 0 {
		return Exclude
	}
	ack, seq := be32(b, 0), be32(b, 12)
	if st.rdp >= 2 && c.Dir != Dir(st.rdpDir) && ack == st.rdpSeq {
		st.rdp++
		if st.rdp >= 5 {
			return lanRDP(c)
		}
	} else if st.rdp >= 2 && c.Dir != Dir(st.rdpDir) {
		return Exclude
	} else if st.rdp == 0 {
		st.rdp = 2
	}
	st.rdpSeq, st.rdpDir = seq, uint8(c.Dir)
	if c.Payloads(ToServer)+c.Payloads(ToClient) > 6 {
		return Exclude
	}
	return Continue
}

func lanRDP(c *Ctx) Status {
	lanSet(c, ProtoRDP, 0)
	c.AddRisk(RiskDesktopOrFileSharing)
	return Done
}
