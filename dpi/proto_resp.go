package dpi

// Redis serialisation protocol (redis.io "RESP protocol spec"): clients
// send commands as arrays of bulk strings, "*<count>\r\n$<len>\r\n<arg>\r\n".
func dissectRESP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 || b[0] != '*' {
		return Exclude
	}
	i := 1
	for i < len(b) && i < 6 && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 1 || i+3 > len(b) || b[i] != '\r' || b[i+1] != '\n' || b[i+2] != '$' {
		return Exclude
	}
	return lanDone(c, ProtoRESP)
}
