package dpi

// Media transports.

// dissectMPEGTS: MPEG transport stream over UDP (ISO/IEC 13818-1 §2.4.3):
// whole 188-byte packets, each starting with the 0x47 sync byte.
func dissectMPEGTS(c *Ctx) Status {
	b := c.Payload
	if len(b) == 0 || len(b)%188 != 0 {
		return Exclude
	}
	for off := 0; off < len(b); off += 188 {
		if b[off] != 0x47 {
			return Exclude
		}
	}
	c.Set(ProtoMPEGTS, 0)
	return Done
}

// dissectUFTP: UFTP, encrypted multicast file transfer (uftp-multicast.
// sourceforge.net, protocol v4/v5): version 0x40 or 0x50, a message type
// below 22, and the message body repeating the type after the header.
func dissectUFTP(c *Ctx) Status {
	b := c.Payload
	if len(b) > 23 && (b[0] == 0x40 || b[0] == 0x50) && b[1] < 22 && b[15] == 0 && b[16] == b[1] {
		c.Set(ProtoUFTP, 0)
		return Done
	}
	return Exclude
}
