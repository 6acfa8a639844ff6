package dpi

import "bytes"

// SIP (RFC 3261 §7): a request line "METHOD sip:… SIP/2.0" or a status line
// "SIP/2.0 code reason", over UDP or TCP. Methods of RFC 3261 and its
// extensions (PRACK 3262, SUBSCRIBE/NOTIFY 6665, PUBLISH 3903, INFO 6086,
// REFER 3515, MESSAGE 3428, UPDATE 3311). Some phones send "hello"
// keepalives to the registrar port.

var sipStarts = [...][]byte{
	[]byte("invite sip"), []byte("ack sip"), []byte("bye sip"), []byte("cancel sip"),
	[]byte("register sip"), []byte("options sip"), []byte("prack sip"), []byte("subscribe sip"),
	[]byte("notify sip"), []byte("publish sip"), []byte("info sip"), []byte("refer sip"),
	[]byte("message sip"), []byte("update sip"),
	[]byte("invite tel"), []byte("ack tel"), []byte("cancel tel"), []byte("options tel"),
	[]byte("sip/2.0 "),
}

func dissectSIP(c *Ctx) Status {
	if pktCount(c) >= 8 {
		return Exclude
	}
	b := c.Payload
	if len(b) > 4 {
		// TURN ChannelData (RFC 8656 §12.4) may carry the signalling.
		if n := int(b[2])<<8 | int(b[3]); n == len(b)-4 && b[0] >= 0x40 && b[0] <= 0x4f {
			b = b[4:]
		}
		if len(b) == 0 || b[0] < 0x20 || b[0] > 0x7e {
			return Exclude
		}
	}
	if len(b) == 5 && string(b) == "hello" && (sipPort(c.ServerPort()) || sipPort(c.ClientPort())) {
		c.Set(ProtoSIP, 0)
		return Done
	}
	if len(b) >= 30 && sipStart(b) {
		c.Set(ProtoSIP, 0)
		return Done
	}
	return Continue
}

func sipPort(p uint16) bool { return p == 5060 || p == 5061 }

// sipStart matches a SIP start line case-insensitively, without copying;
// the first letter picks the candidates.
func sipStart(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	first := b[0] | 0x20
	for _, s := range sipStarts {
		if s[0] == first && len(b) > len(s) && bytes.EqualFold(b[:len(s)], s) {
			return true
		}
	}
	return false
}
