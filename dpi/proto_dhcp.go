package dpi

import "strconv"

// DHCP (RFC 2131 §2): a BOOTP message (op 1 request, 2 reply) with the
// magic cookie 99.130.83.99 at offset 236 and options after it (RFC 2132).
// A DHCP message carries option 53, its type. The client's parameter
// request list (option 55) is its fingerprint, printed as nDPI prints it
// (decimal codes joined by commas); option 12 is the host name and option
// 60 the vendor class.
func dissectDHCP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 244 || (b[0] != 1 && b[0] != 2) || be32(b, 236) != 0x63825363 {
		return Exclude
	}
	if !hasPort(c, 67) && !hasPort(c, 68) {
		return Exclude
	}
	var msgType, host, params, class []byte
	for off := 240; off < len(b); {
		code := b[off]
		if code == 255 {
			break
		}
		if code == 0 {
			off++
			continue
		}
		if off+2 > len(b) {
			break
		}
		n := int(b[off+1])
		v := b[off+2 : min(off+2+n, len(b))]
		switch code {
		case 53:
			msgType = v
		case 12:
			host = v
		case 55:
			params = v
		case 60:
			class = v
		}
		off += 2 + n
	}
	if len(msgType) != 1 || msgType[0] < 1 || msgType[0] > 18 {
		return Exclude
	}
	lanSet(c, ProtoDHCP, 0)
	if len(host) > 0 {
		c.SetHostname(trimNUL(host))
	}
	if len(params) > 0 || len(class) > 0 {
		m := c.Meta()
		if len(params) > 0 {
			var buf [4 * 255]byte
			out := buf[:0]
			for i, p := range params {
				if i > 0 {
					out = append(out, ',')
				}
				out = strconv.AppendUint(out, uint64(p), 10)
			}
			m.DHCPFingerprint = c.Intern(out)
		}
		if len(class) > 0 {
			m.DHCPClass = c.Intern(trimNUL(class))
		}
	}
	return Done
}

// trimNUL drops trailing NUL bytes some clients include in strings.
func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}
