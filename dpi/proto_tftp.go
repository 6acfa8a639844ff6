package dpi

import "ips/internal/ascii"

// TFTP (RFC 1350 §5): a read (1) or write (2) request to port 69 carries a
// NUL-terminated file name and a NUL-terminated mode, "netascii", "octet"
// or "mail" in any case.
func dissectTFTP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 4 || c.Pkt.DstPort != 69 || b[0] != 0 || (b[1] != 1 && b[1] != 2) {
		return Exclude
	}
	rest := b[2:]
	i := index(rest, "\x00")
	if i < 1 || !printable(rest[:i]) {
		return Exclude
	}
	mode := rest[i+1:]
	if !ascii.HasPrefix(mode, "netascii\x00") && !ascii.HasPrefix(mode, "octet\x00") && !ascii.HasPrefix(mode, "mail\x00") {
		return Exclude
	}
	return lanDone(c, ProtoTFTP)
}
