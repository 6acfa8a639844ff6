package dpi

// SNMP (RFC 1157 §4, RFC 3416 §3, RFC 3412 §6): a BER SEQUENCE holding the
// version (0 v1, 1 v2c, 3 v3); v1 and v2c then carry the community string
// and a PDU whose context tag is 0xa0..0xa8, v3 a header SEQUENCE. Like
// nDPI, a v1/v2c request waits for one more packet, the response, whose
// error-status other than noError (0) raises the error-code risk.
func dissectSNMP(c *Ctx) Status {
	b := c.Payload
	st := &c.s.lan
	if st.snmp > 0 {
		// Classified already: look at the response for its error status.
		snmpCheckError(c, b)
		return Done
	}
	if len(b) < 16 || b[0] != 0x30 {
		return Exclude
	}
	_, s, _, ok := berTLV(b, 0)
	if !ok {
		return Exclude
	}
	v, off, ok := berInt(b, s)
	if !ok {
		return Exclude
	}
	switch v {
	case 0, 1:
		tag, cs, cn, ok := berTLV(b, off)
		if !ok || tag != 0x04 || cs+cn >= len(b) {
			return Exclude
		}
		pdu := b[cs+cn]
		if pdu < 0xa0 || pdu > 0xa8 {
			return Exclude
		}
		lanSet(c, ProtoSNMP, 0)
		if pdu == 0xa2 {
			snmpCheckError(c, b)
			return Done
		}
		st.snmp = 1
		c.Pending(FieldRisks)
		return More
	case 3:
		if tag, _, _, ok := berTLV(b, off); !ok || tag != 0x30 {
			return Exclude
		}
		return lanDone(c, ProtoSNMP)
	}
	return Exclude
}

// snmpCheckError flags a v1/v2c response (GetResponse, 0xa2) whose
// error-status is not noError.
func snmpCheckError(c *Ctx, b []byte) {
	_, s, _, ok := berTLV(b, 0)
	if !ok {
		return
	}
	v, off, ok := berInt(b, s)
	if !ok || v > 1 {
		return
	}
	tag, cs, cn, ok := berTLV(b, off)
	if !ok || tag != 0x04 {
		return
	}
	tag, ps, _, ok := berTLV(b, cs+cn)
	if !ok || tag != 0xa2 {
		return
	}
	if _, off, ok = berInt(b, ps); !ok { // request-id
		return
	}
	if e, _, ok := berInt(b, off); ok && e != 0 {
		c.AddRisk(RiskErrorCodeDetected)
	}
}
