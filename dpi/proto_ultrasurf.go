package dpi

// UltraSurf's proxy connections begin with a fixed 8-byte preamble, which
// is what nDPI keys on (the rest of the stream is encrypted).

const ultrasurfMagic = "\xcc\x1c\x30\x41\x5b\xa4\x38\x66"

func dissectUltraSurf(c *Ctx) Status {
	if !hasPrefix(c.Payload, ultrasurfMagic) {
		return Exclude
	}
	c.Set(ProtoUltraSurf, 0)
	return Done
}
