package dpi

// Apache Kafka protocol (kafka.apache.org "A Guide To The Kafka
// Protocol"): a request is a 32-bit size of the rest, API key (0..74),
// API version, correlation id and a client id (a 16-bit length, -1 for
// null, and printable bytes).
func dissectKafka(c *Ctx) Status {
	b := c.Payload
	if len(b) < 14 || c.Dir != ToServer || int(be32(b, 0)) != len(b)-4 {
		return Exclude
	}
	key := be16(b, 4)
	if key > 74 || be16(b, 6) > 20 {
		return Exclude
	}
	// Away from the broker ports, only the requests a client opens with
	// (ApiVersions 18, Metadata 3, SaslHandshake 17) are accepted.
	if !hasPort(c, 9092) && !hasPort(c, 9093) && key != 18 && key != 3 && key != 17 {
		return Exclude
	}
	n := int(int16(be16(b, 12)))
	if n == -1 {
		return lanDone(c, ProtoKafka)
	}
	if n <= 0 || 14+n > len(b) || !printable(b[14:14+n]) {
		return Exclude
	}
	return lanDone(c, ProtoKafka)
}
