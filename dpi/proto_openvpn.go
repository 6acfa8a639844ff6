package dpi

// OpenVPN over UDP and TCP (where each packet is preceded by a 16-bit
// length). A packet starts with opcode<<3 | key_id, then the sender's
// 8-byte session id. Control packets without tls-auth carry an ack array
// (a count, packet ids, then the peer's session id) and a packet id; with
// tls-auth an HMAC (16 to 64 bytes), a packet id and a timestamp come
// first; with tls-crypt everything after the packet id and timestamp is
// encrypted.
//
// A session opens with hard resets: the client's (P_CONTROL_HARD_RESET_
// CLIENT_V1/V2/V3) and the server's (…_SERVER_V1/V2), which acknowledges
// the client's and names its session id. So the first packet of each
// direction must be a reset with key id 0, and every later packet of a
// direction repeats that direction's session id. The flow is OpenVPN when
// the server's reset echoes the client's session id, or when a client
// reset met a server reset and one side repeated its session id (tls-crypt
// hides the echo), or when four packets go one way with the same session
// id and no answer.

type openvpnState struct {
	n   [2]uint8 // packets of each direction that fit
	op  [2]uint8 // opcode of each direction's first packet (its reset)
	sid [2][8]byte
	rem [2]uint16 // TCP: bytes of a packet still to come in later segments
}

const (
	ovpnHardResetClientV1 = 1
	ovpnHardResetServerV1 = 2
	ovpnControlV1         = 4
	ovpnAckV1             = 5
	ovpnHardResetClientV2 = 7
	ovpnHardResetServerV2 = 8
	ovpnHardResetClientV3 = 10
	ovpnControlWKCV1      = 11
)

// ovpnHMACSizes are the tls-auth digests: none, MD5, SHA-1, SHA-256,
// SHA-384, SHA-512.
var ovpnHMACSizes = [...]int{0, 16, 20, 32, 48, 64}

func dissectOpenVPN(c *Ctx) Status {
	p := c.Payload
	st := &c.s.p2p.openvpn
	d, o := c.Dir, 1-c.Dir
	if c.L4() == IPProtoTCP {
		if r := int(st.rem[d]); r > 0 {
			// This segment continues a packet judged already.
			if r >= len(p) {
				st.rem[d] -= uint16(len(p))
				return Continue
			}
			st.rem[d], p = 0, p[r:]
		}
		if len(p) < 2+14 {
			return Exclude
		}
		n := int(be16(p, 0))
		if n < 14 || (st.n[d] == 0 && n != len(p)-2) {
			return Exclude // a reset fills its segment exactly
		}
		if n > len(p)-2 {
			st.rem[d] = uint16(n - (len(p) - 2))
		}
		p = p[2:]
	}
	if len(p) < 14 || p[0]&7 != 0 {
		return Exclude
	}
	op := p[0] >> 3
	reset := op == ovpnHardResetClientV1 || op == ovpnHardResetServerV1 ||
		op == ovpnHardResetClientV2 || op == ovpnHardResetServerV2 || op == ovpnHardResetClientV3
	switch {
	case !reset && op != ovpnControlV1 && op != ovpnAckV1 && op != ovpnControlWKCV1:
		return Exclude
	case st.n[d] == 0:
		if !reset || len(p) >= 1200 { // resets are small (and QUIC's are not)
			return Exclude
		}
		copy(st.sid[d][:], p[1:9])
		st.op[d] = op
	case string(p[1:9]) != string(st.sid[d][:]):
		return Exclude
	}
	if st.n[d] < 255 {
		st.n[d]++
	}
	switch {
	case st.n[o] > 0 && (op == ovpnHardResetServerV1 || op == ovpnHardResetServerV2) && ovpnEchoes(p, &st.sid[o]):
		return ovpnFound(c)
	case st.n[d]+st.n[o] >= 3 && st.n[o] >= 1 && ovpnServerReset(st.op[d]) != ovpnServerReset(st.op[o]):
		// A client reset one way, a server reset the other, and one side
		// already repeated its session id.
		return ovpnFound(c)
	case st.n[d] >= 4 && st.n[o] == 0:
		return ovpnFound(c)
	case c.Payloads(ToServer)+c.Payloads(ToClient) > 6:
		return Exclude
	}
	return Continue
}

func ovpnServerReset(op uint8) bool {
	return op == ovpnHardResetServerV1 || op == ovpnHardResetServerV2
}

// ovpnEchoes reports whether a server reset acknowledges the client's
// session id, for any of the tls-auth digest sizes.
func ovpnEchoes(p []byte, cli *[8]byte) bool {
	for _, h := range ovpnHMACSizes {
		off := 9 // ack array length without tls-auth
		if h > 0 {
			off = 9 + h + 8 // after HMAC, packet id and timestamp
		}
		if off >= len(p) {
			continue
		}
		acks := int(p[off])
		if acks == 0 || acks > 8 {
			continue
		}
		at := off + 1 + 4*acks
		if at+8 <= len(p) && string(p[at:at+8]) == string(cli[:]) {
			return true
		}
	}
	return false
}

func ovpnFound(c *Ctx) Status {
	c.Set(ProtoOpenVPN, vpnAppByAddr(c))
	return Done
}
