package dpi

// NetBIOS over TCP/IP (RFC 1001/1002): the name service on UDP 137, the
// datagram service on UDP 138 and the session service on TCP 139. nDPI
// reports the NetBIOS name a packet carries as the flow's hostname, and a
// datagram that carries SMB (browser announcements and mailslots) as
// NetBIOS.SMBv1.
func dissectNetBIOS(c *Ctx) Status {
	b := c.Payload
	if c.L4() == IPProtoTCP {
		return netbiosSession(c, b)
	}
	switch {
	case hasPort(c, 137):
		return netbiosName(c, b)
	case c.Pkt.DstPort == 138:
		return netbiosDatagram(c, b)
	}
	return Exclude
}

// netbiosName matches a name service packet (RFC 1002 §4.2.1): a DNS-like
// header whose opcode is query (0), registration (5), release (6), WACK
// (7) or refresh (8, 9), one question (requests) or one answer
// (responses), then a first-level encoded name (RFC 1001 §14.1: a length
// byte of 32 and 32 letters 'A'..'P').
func netbiosName(c *Ctx, b []byte) Status {
	if len(b) < 50 {
		return Exclude
	}
	flags := be16(b, 2)
	qd, an, ns, ar := be16(b, 4), be16(b, 6), be16(b, 8), be16(b, 10)
	switch op := flags >> 11 & 0xf; op {
	case 0, 5, 6, 7, 8, 9:
	default:
		return Exclude
	}
	if flags&0x8000 == 0 { // request
		if qd != 1 || an != 0 || ns != 0 || ar > 1 {
			return Exclude
		}
	} else if !(qd == 0 && an == 1 && ns == 0 && ar == 0) && !(qd == 0 && an == 0 && ns == 1 && ar == 1) && !(qd == 0 && an == 0 && ns == 0 && ar == 0) {
		return Exclude
	}
	var name [16]byte
	n, ok := netbiosDecodeName(b[12:], &name)
	if !ok {
		return Exclude
	}
	// The name ends with its scope labels and a zero byte, then type and
	// class: NB (0x20) or NBSTAT (0x21), class IN.
	off := 12 + 1 + 32
	for off < len(b) && b[off] != 0 {
		off += 1 + int(b[off])
	}
	if off+5 > len(b) || (be16(b, off+1) != 0x20 && be16(b, off+1) != 0x21 && be16(b, off+1) != 0x0a) || be16(b, off+3) != 1 {
		return Exclude
	}
	lanSet(c, ProtoNetBIOS, 0)
	if n > 0 {
		c.SetHostname(name[:n])
	}
	return Done
}

// netbiosDatagram matches a datagram service header (RFC 1002 §4.4.1):
// type 0x10..0x16, flags, id, the source address (which must be the
// packet's), source port, then for data datagrams a length of what
// follows the 14-byte header, the source and destination names and the
// user data, which for Windows is an SMB transaction.
func netbiosDatagram(c *Ctx, b []byte) Status {
	if len(b) < 14 || b[0] < 0x10 || b[0] > 0x16 {
		return Exclude
	}
	src := c.Pkt.Src
	if !src.Is4() || src.As4() != [4]byte(b[4:8]) {
		return Exclude
	}
	if b[0] > 0x12 { // error and query datagrams: no names and data
		return lanDone(c, ProtoNetBIOS)
	}
	if int(be16(b, 10)) != len(b)-14 {
		return Exclude
	}
	var name [16]byte
	n, ok := netbiosDecodeName(b[14:], &name)
	const data = 14 + 34 + 34
	if ok && len(b) >= data+9 && hasPrefix(b[data:], "\xffSMB") {
		lanSet(c, ProtoNetBIOS, ProtoSMBv1)
		if b[data+4] != 0x25 { // Trans (mailslots, browser) is v1 by design
			c.AddRisk(RiskSMBInsecureVersion)
		}
	} else {
		lanSet(c, ProtoNetBIOS, 0)
	}
	if n > 0 {
		c.SetHostname(name[:n])
	}
	return Done
}

// netbiosSession matches a session request (RFC 1002 §4.3.2): type 0x81,
// a length of the rest, and the called and calling names.
func netbiosSession(c *Ctx, b []byte) Status {
	if !hasPort(c, 139) {
		return Exclude
	}
	if len(b) >= 72 && b[0] == 0x81 && b[1] == 0 && int(be16(b, 2)) == len(b)-4 && b[4] == 0x20 {
		return lanDone(c, ProtoNetBIOS)
	}
	if c.Payloads(ToServer)+c.Payloads(ToClient) >= 3 {
		return Exclude
	}
	return Continue
}

// netbiosDecodeName decodes a first-level encoded NetBIOS name at b[0]
// (length byte 32, then two letters per byte) into out, dropping the
// 16th byte (the service suffix), non-printable bytes and trailing
// spaces. ok is false when the encoding is invalid.
func netbiosDecodeName(b []byte, out *[16]byte) (n int, ok bool) {
	if len(b) < 33 || b[0] != 32 {
		return 0, false
	}
	for i := 0; i < 16; i++ {
		hi, lo := b[1+2*i], b[2+2*i]
		if hi < 'A' || hi > 'P' || lo < 'A' || lo > 'P' {
			return 0, false
		}
		if i == 15 {
			break
		}
		if ch := (hi-'A')<<4 | (lo - 'A'); ch >= 0x20 && ch < 0x7f {
			out[n] = ch
			n++
		}
	}
	for n > 0 && out[n-1] == ' ' {
		n--
	}
	return n, true
}
