package dpi

// GPRS Tunnelling Protocol. GTPv1 (3GPP TS 29.060 §6): version 1 and the
// protocol-type bit in the flags, a message type, a length that counts
// the bytes after the 8-byte mandatory header. GTPv2-C (TS 29.274 §5.1):
// version 2, length counting the bytes after the first four. GTP' (TS
// 32.295 §6) for charging runs on 3386. nDPI names the flows GTP.GTP_U,
// GTP.GTP_C and GTP.GTP_PRIME by port.
func dissectGTP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 {
		return Exclude
	}
	var app ProtoID
	switch {
	case hasPort(c, 2152):
		app = ProtoGTPU
	case hasPort(c, 2123):
		app = ProtoGTPC
	case hasPort(c, 3386):
		app = ProtoGTPPRIME
	default:
		return Exclude
	}
	ok := false
	switch v := b[0] >> 5; {
	case v == 1 && b[0]&0x10 != 0:
		ok = int(be16(b, 2))+8 == len(b) && b[1] != 0
	case v == 2 && app == ProtoGTPC:
		ok = int(be16(b, 2))+4 == len(b) && b[1] != 0
	case v <= 2 && app == ProtoGTPPRIME:
		ok = int(be16(b, 2))+6 <= len(b) && b[1] != 0
	}
	if !ok {
		return Exclude
	}
	lanSet(c, ProtoGTP, app)
	return Done
}
