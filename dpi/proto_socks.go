package dpi

// SOCKS proxies. Single client messages are short and loose, so the flow
// is named only when the server's answer fits the client's message:
//
//   - SOCKS5 (RFC 1928 §3): the client offers NMETHODS authentication
//     methods (05 n m1..mn); the server picks one of them, or 0xFF (05 m).
//     A flow seen from its request on (05 cmd 00 atyp address port) is
//     named when the reply (05 rep 00 atyp address port) follows.
//   - SOCKS4/4a: 04 cmd port ip userid 00 [host 00]; the reply is eight
//     bytes, 00 then 90..93.

type socksState struct {
	stage   uint8
	methods uint8 // offered methods 0..6, bit per method; bit 7: others
}

const (
	socks5Greeting uint8 = iota + 1
	socks5Request
	socks4Req
)

func dissectSOCKS(c *Ctx) Status {
	p := c.Payload
	st := &c.s.p2p.socks
	if len(p) < 2 {
		return Exclude
	}
	if c.Dir == ToServer {
		if st.stage != 0 {
			return Exclude // the server answers before the client speaks again
		}
		switch p[0] {
		case 5:
			if m, ok := socks5Methods(p); ok {
				st.stage, st.methods = socks5Greeting, m
				return Continue
			}
			if socks5Addr(p, 1, 3) {
				st.stage = socks5Request
				return Continue
			}
		case 4:
			if socks4Request(p) {
				st.stage = socks4Req
				return Continue
			}
		}
		return Exclude
	}
	ok := false
	switch st.stage {
	case socks5Greeting:
		m := p[1]
		ok = len(p) == 2 && p[0] == 5 &&
			(m == 0xff || (m < 7 && st.methods&(1<<m) != 0) || (m >= 7 && st.methods&0x80 != 0))
	case socks5Request:
		ok = socks5Addr(p, 0, 8) // reply codes 0..8
	case socks4Req:
		ok = len(p) == 8 && p[0] == 0 && p[1] >= 90 && p[1] <= 93
	}
	if !ok {
		return Exclude
	}
	c.Set(ProtoSOCKS, 0)
	return Done
}

// socks5Methods parses a greeting: version 5, the method count and exactly
// that many methods (0xFF is the server's refusal, never offered).
func socks5Methods(p []byte) (mask uint8, ok bool) {
	n := int(p[1])
	if n == 0 || n > 16 || len(p) != 2+n {
		return 0, false
	}
	for _, m := range p[2:] {
		switch {
		case m == 0xff:
			return 0, false
		case m < 7:
			mask |= 1 << m
		default:
			mask |= 0x80
		}
	}
	return mask, true
}

// socks5Addr checks a request or reply: version 5, a command (request:
// 1..3, from minCmd) or reply code (0..maxCode), a zero reserved byte,
// then an address of type 1 (IPv4), 3 (name) or 4 (IPv6) and a port,
// filling the segment exactly.
func socks5Addr(p []byte, minCode, maxCode byte) bool {
	if len(p) < 7 || p[0] != 5 || p[1] < minCode || p[1] > maxCode || p[2] != 0 {
		return false
	}
	switch p[3] {
	case 1:
		return len(p) == 4+4+2
	case 3:
		return p[4] > 0 && len(p) == 4+1+int(p[4])+2
	case 4:
		return len(p) == 4+16+2
	}
	return false
}

// socks4Request checks 04 cmd port ip userid\0 [host\0].
func socks4Request(p []byte) bool {
	if len(p) < 9 || (p[1] != 1 && p[1] != 2) || p[len(p)-1] != 0 {
		return false
	}
	if be32(p, 4) == 0 {
		return false
	}
	nuls := 0
	for _, ch := range p[8:] {
		switch {
		case ch == 0:
			nuls++
		case ch < 0x20 || ch > 0x7e:
			return false
		}
	}
	socks4a := be32(p, 4) < 256 // 0.0.0.x: a host name follows the user id
	return (!socks4a && nuls == 1) || (socks4a && nuls == 2 && p[len(p)-2] != 0)
}
