package dpi

// SMB over TCP 445 (MS-SMB2 §2.1 direct hosting): a 4-byte header (a zero
// byte and a 24-bit length) before an SMB message whose protocol id is
// 0xFF 'SMB' (SMBv1, MS-CIFS §2.2.3.1) or 0xFE 'SMB' (SMB 2 and 3). nDPI
// names both NetBIOS.SMBv1 and NetBIOS.SMBv23. A Negotiate request (0x72)
// is not decisive, since every client opens with an SMBv1 negotiate that
// offers SMB2 dialects; the next message is. SMBv1 carries the insecure
// version risk unless the command is a Trans (0x25) broadcast.
func dissectSMB(c *Ctx) Status {
	b := c.Payload
	if !hasPort(c, 445) {
		return Exclude
	}
	if len(b) > 40 && b[0] == 0 && int(be24(b, 1)) >= len(b)-4 {
		switch {
		case hasPrefix(b[4:], "\xffSMB"):
			if b[8] == 0x72 {
				return Continue
			}
			lanSet(c, ProtoNetBIOS, ProtoSMBv1)
			if b[8] != 0x25 {
				c.AddRisk(RiskSMBInsecureVersion)
			}
			return Done
		case hasPrefix(b[4:], "\xfeSMB"):
			lanSet(c, ProtoNetBIOS, ProtoSMBv23)
			return Done
		}
	}
	return Exclude
}
