package dpi

// EtherNet/IP encapsulation (ODVA CIP Vol. 2 §2-3): a 24-byte header of
// little-endian command (NOP 0, ListServices 4, ListIdentity 0x63,
// ListInterfaces 0x64, RegisterSession 0x65, UnRegisterSession 0x66,
// SendRRData 0x6f, SendUnitData 0x70), the length of the data after the
// header, session handle, status, sender context and options (zero).
func dissectEthernetIP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 24 || le32(b, 20) != 0 || int(le16(b, 2)) != len(b)-24 {
		return Exclude
	}
	switch le16(b, 0) {
	case 0x0004, 0x0063, 0x0064, 0x0065, 0x0066, 0x006f, 0x0070:
	default:
		return Exclude
	}
	if !hasPort(c, 44818) && !hasPort(c, 2222) && le16(b, 0) != 0x0065 {
		return Exclude
	}
	return lanDone(c, ProtoEthernetIP)
}
