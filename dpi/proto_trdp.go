package dpi

// Train Real-time Data Protocol (IEC 61375-2-3 Annex A): process data (UDP
// 17224) and message data (UDP and TCP 17225) headers start with a
// sequence counter, the protocol version 1.0 and a two-letter message
// type: "Pd", "Pp", "Pr", "Pe" for process data, "Mn", "Mr", "Mp", "Mq",
// "Mc", "Me" for message data.
func dissectTRDP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 40 || b[4] != 1 || b[5] != 0 {
		return Exclude
	}
	switch string(b[6:8]) {
	case "Pd", "Pp", "Pr", "Pe", "Mn", "Mr", "Mp", "Mq", "Mc", "Me":
	default:
		return Exclude
	}
	if !hasPort(c, 17224) && !hasPort(c, 17225) {
		return Exclude
	}
	return lanDone(c, ProtoTRDP)
}
