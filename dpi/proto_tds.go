package dpi

// Tabular Data Stream, Microsoft SQL Server (MS-TDS §2.2.3.1.1): an 8-byte
// packet header — type, status bits, a length that covers the whole packet,
// SPID, packet id and a window byte that is always zero. Like nDPI, the
// length must equal the segment (a packet larger than one segment is left
// to the port).
func dissectMsSQLTDS(c *Ctx) Status {
	b := c.Payload
	if len(b) < 9 || b[7] != 0 || b[1] > 0x1f || int(be16(b, 2)) != len(b) {
		return Exclude
	}
	switch b[0] {
	case 1, 2, 3, 4, 6, 7, 14, 15, 16, 17, 18:
	default:
		return Exclude
	}
	if !hasPort(c, 1433) && !hasPort(c, 1434) && b[0] != 16 && b[0] != 18 {
		// Away from the SQL Server ports only a login (16) or pre-login
		// (18) opens a TDS connection.
		return Exclude
	}
	return lanDone(c, ProtoMsSQLTDS)
}
