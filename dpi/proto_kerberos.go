package dpi

// Kerberos V5 (RFC 4120 §5.10, §7.2): messages are BER-encoded
// [APPLICATION n] types — AS-REQ 10 (0x6a), AS-REP 11, TGS-REQ 12,
// TGS-REP 13, AP-REQ 14, AP-REP 15, KRB-SAFE 20, KRB-PRIV 21, KRB-CRED
// 22, KRB-ERROR 30 (0x7e) — wrapping a SEQUENCE whose first field is
// pvno 5. Over TCP each message is preceded by a 4-byte length. As nDPI
// does, the first message must parse; a request waits for the reply.
func dissectKerberos(c *Ctx) Status {
	b := c.Payload
	st := &c.s.lan
	if st.krb > 0 {
		return Done
	}
	if c.L4() == IPProtoTCP {
		if len(b) < 4+10 || b[0]&0x80 != 0 {
			return Exclude
		}
		if n := int(be32(b, 0)); n < 10 || n < len(b)-4 {
			return Exclude
		}
		b = b[4:]
	}
	if len(b) < 10 {
		return Exclude
	}
	app := b[0]
	switch app {
	case 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x74, 0x75, 0x76, 0x7e:
	default:
		return Exclude
	}
	_, s, _, ok := berTLV(b, 0)
	if !ok {
		return Exclude
	}
	tag, s, _, ok := berTLV(b, s)
	if !ok || tag != 0x30 {
		return Exclude
	}
	// pvno is field [0] in replies, errors and AP messages, [1] in KDC
	// requests (whose [0] is absent).
	want := byte(0xa0)
	if app == 0x6a || app == 0x6c {
		want = 0xa1
	}
	tag, s, _, ok = berTLV(b, s)
	if !ok || tag != want {
		return Exclude
	}
	if v, _, ok := berInt(b, s); !ok || v != 5 {
		return Exclude
	}
	lanSet(c, ProtoKerberos, 0)
	if app == 0x6a || app == 0x6c {
		st.krb = 1
		c.Pending(FieldMeta)
		return More
	}
	return Done
}
