package dpi

// MQTT 3.1.1 and 5 (OASIS MQTT v3.1.1 §2.2, v5.0 §2.1): a fixed header —
// packet type (1..14) and flags in the first byte, then the remaining
// length as a variable-length integer — that must cover the segment. A
// CONNECT names the protocol ("MQTT", or "MQIsdp" for 3.1) and its level;
// other packet types are checked for their fixed flags and lengths.
// Away from ports 1883/8883 a PUBLISH must carry a printable topic.
func dissectMQTT(c *Ctx) Status {
	b := c.Payload
	if len(b) < 2 {
		return Exclude
	}
	typ, flags := b[0]>>4, b[0]&0x0f
	n, hdr := 0, 1
	for i := 0; ; i++ {
		if hdr >= len(b) || i == 4 {
			return Exclude
		}
		n |= int(b[hdr]&0x7f) << (7 * i)
		hdr++
		if b[hdr-1]&0x80 == 0 {
			break
		}
	}
	if hdr+n != len(b) {
		return Exclude
	}
	std := hasPort(c, 1883) || hasPort(c, 8883)
	switch typ {
	case 1: // CONNECT
		if flags != 0 || n < 10 {
			return Exclude
		}
		pl := int(be16(b, hdr))
		if pl == 4 && hasPrefix(b[hdr+2:], "MQTT") || pl == 6 && hasPrefix(b[hdr+2:], "MQIsdp") {
			if lvl := b[hdr+2+pl]; lvl >= 3 && lvl <= 5 {
				return lanDone(c, ProtoMQTT)
			}
		}
		return Exclude
	case 2: // CONNACK
		if flags != 0 || n < 2 || b[hdr] > 1 {
			return Exclude
		}
	case 3: // PUBLISH: QoS 3 is invalid
		if flags&0x06 == 0x06 || n < 3 {
			return Exclude
		}
		tl := int(be16(b, hdr))
		if tl == 0 || hdr+2+tl > len(b) || !printable(b[hdr+2:hdr+2+tl]) {
			return Exclude
		}
		return lanDone(c, ProtoMQTT)
	case 4, 5, 7, 11: // PUBACK, PUBREC, PUBCOMP, UNSUBACK
		if flags != 0 || n < 2 {
			return Exclude
		}
	case 6, 8, 10: // PUBREL, SUBSCRIBE, UNSUBSCRIBE carry flags 0010
		if flags != 2 || n < 2 {
			return Exclude
		}
	case 9: // SUBACK
		if flags != 0 || n < 3 {
			return Exclude
		}
	case 12, 13: // PINGREQ, PINGRESP
		if flags != 0 || n != 0 {
			return Exclude
		}
	case 14: // DISCONNECT
		if flags != 0 || n > 1 && !std {
			return Exclude
		}
	default:
		return Exclude
	}
	return lanDone(c, ProtoMQTT)
}
