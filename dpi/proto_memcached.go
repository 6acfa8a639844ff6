package dpi

// Memcached text protocol (memcached protocol.txt): commands such as get,
// gets, set, add, replace, delete, incr, stats, version; replies VALUE,
// STORED, END. The UDP transport prefixes an 8-byte frame header (request
// id, sequence, datagram count, reserved zero). The verbs are common
// words, so the memcached port is required.
func dissectMemcached(c *Ctx) Status {
	b := c.Payload
	if !hasPort(c, 11211) {
		return Exclude
	}
	if c.L4() == IPProtoUDP {
		if len(b) < 10 || be16(b, 6) != 0 || be16(b, 4) == 0 {
			return Exclude
		}
		b = b[8:]
	}
	for _, k := range [...]string{"get ", "gets ", "set ", "add ", "replace ", "append ", "prepend ", "cas ", "delete ",
		"incr ", "decr ", "touch ", "stats", "version\r\n", "flush_all", "VALUE ", "STORED\r\n", "END\r\n"} {
		if hasPrefix(b, k) {
			return lanDone(c, ProtoMemcached)
		}
	}
	return Exclude
}
