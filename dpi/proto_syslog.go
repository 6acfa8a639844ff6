package dpi

// Syslog (RFC 5424 §6, RFC 3164 §4.1): a message starts with a priority,
// "<" one to three digits (0..191) ">", then the RFC 5424 version and a
// space, or an RFC 3164 timestamp ("Mmm dd"), or as many senders write,
// an RFC 3339 timestamp. TCP transport (RFC 6587) may prefix an octet
// count. Off the syslog ports the text after the priority must look like
// one of those headers.
func dissectSyslog(c *Ctx) Status {
	b := c.Payload
	if c.L4() == IPProtoTCP {
		// octet counting: "123 <34>..."
		i := 0
		for i < len(b) && i < 6 && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i > 0 && i < len(b) && b[i] == ' ' {
			b = b[i+1:]
		}
	}
	if len(b) < 6 || b[0] != '<' {
		return Exclude
	}
	pri, i := 0, 1
	for i < len(b) && i <= 3 && b[i] >= '0' && b[i] <= '9' {
		pri = pri*10 + int(b[i]-'0')
		i++
	}
	if i == 1 || i >= len(b) || b[i] != '>' || pri > 191 {
		return Exclude
	}
	rest := b[i+1:]
	std := hasPort(c, 514) || hasPort(c, 601) || hasPort(c, 6514)
	switch {
	case len(rest) >= 2 && rest[0] >= '1' && rest[0] <= '9' && rest[1] == ' ':
	case len(rest) >= 6 && syslogMonth(rest[:3]) && rest[3] == ' ':
	case len(rest) >= 10 && rest[4] == '-' && rest[7] == '-' && rest[0] >= '1' && rest[0] <= '2':
	case std && len(rest) > 0 && rest[0] >= 0x20 && rest[0] < 0x7f:
	default:
		return Exclude
	}
	return lanDone(c, ProtoSyslog)
}

func syslogMonth(m []byte) bool {
	switch string(m) {
	case "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec":
		return true
	}
	return false
}
