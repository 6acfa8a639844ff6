package dpi

import (
	"bytes"
	"encoding/binary"
)

// Messaging and call applications with their own wire formats.

// appState is the per-flow state of the multi-packet application
// signatures.
type appState struct {
	imoLastOne  bool
	imoLastByte uint8
	waMatched   uint8 // bytes of the WhatsApp preamble matched so far
	tsStage     uint8
	zoomP2P     bool
	zoomChecked uint8
	mumbleStage bool
	mumbleIdent uint64
	steamStage  [3]uint8
	xboxStage   uint8
}

// dissectWhatsApp: WhatsApp's chat connection on TCP starts with the
// Noise-pipes preamble "ED\x00\x01" and a routing header (version 2 or 4
// of the framing), or, in old clients, "WA\x01\x05". The preamble may be
// split across segments.
var (
	waPreambleNew = []byte("ED\x00\x01\x00\x00\x04\x08")
	waPreambleOld = []byte("ED\x00\x01\x00\x00\x02\x08")
	waPreambleWA  = []byte("WA\x01\x05")
)

func dissectWhatsApp(c *Ctx) Status {
	if pktCount(c) > 3 {
		return Exclude
	}
	b := c.Payload
	st := &c.s.realtime.app
	if st.waMatched == 0 && len(b) > len(waPreambleWA) && bytes.HasPrefix(b, waPreambleWA) {
		c.Set(ProtoWhatsApp, 0)
		return Done
	}
	for _, p := range [2][]byte{waPreambleNew, waPreambleOld} {
		m := int(st.waMatched)
		if m >= len(p) {
			continue
		}
		n := min(len(p)-m, len(b))
		if bytes.Equal(b[:n], p[m:m+n]) {
			st.waMatched += uint8(n)
			if int(st.waMatched) == len(p) {
				c.Set(ProtoWhatsApp, 0)
				return Done
			}
			return Continue
		}
	}
	return Exclude
}

// dissectIMO: imo.im's UDP calls: two consecutive identical one-byte
// packets, or its fixed 10-, 11- and 1099-byte control messages.
func dissectIMO(c *Ctx) Status {
	b := c.Payload
	st := &c.s.realtime.app
	switch {
	case len(b) == 1:
		if st.imoLastOne && st.imoLastByte == b[0] {
			break
		}
		st.imoLastOne, st.imoLastByte = true, b[0]
		return Continue
	case len(b) == 10 && b[0] == 0x09 && b[1] == 0x02,
		len(b) == 11 && b[0] == 0x00 && b[1] == 0x09 && b[2] == 0x03,
		len(b) == 1099 && b[0] == 0x88 && b[1] == 0x49 && b[2] == 0x1a && b[3] == 0x00:
	default:
		if pktCount(c) > 10 {
			return Exclude
		}
		st.imoLastOne = false
		return Continue
	}
	c.Set(ProtoIMO, 0)
	return Done
}

// dissectDiscord: Discord voice over UDP: the 8-byte 0x1337CAFE keepalive,
// or the 74-byte IP discovery request (type 1) and response (type 2,
// carrying the client's public address) of the voice gateway protocol.
func dissectDiscord(c *Ctx) Status {
	b := c.Payload
	if len(b) == 8 && binary.BigEndian.Uint32(b) == 0x1337cafe {
		c.Set(ProtoDiscord, 0)
		return Done
	}
	if len(b) == 74 {
		n := pktCount(c)
		if n == 1 && binary.BigEndian.Uint32(b) == 0x00010046 {
			return Continue
		}
		if n == 2 && binary.BigEndian.Uint32(b) == 0x00020046 {
			c.Set(ProtoDiscord, 0)
			return Done
		}
	}
	if pktCount(c) >= 5 {
		return Exclude
	}
	return Continue
}

// dissectMumble: Mumble's UDP ping (mumble.info "Protocol: UDP ping"): a
// 12-byte request with a zero first word and an 8-byte identifier, answered
// by 24 bytes echoing the identifier.
func dissectMumble(c *Ctx) Status {
	b := c.Payload
	st := &c.s.realtime.app
	if c.Dir == ToServer && len(b) == 12 {
		if binary.BigEndian.Uint32(b) == 0 {
			st.mumbleStage, st.mumbleIdent = true, binary.BigEndian.Uint64(b[4:])
			return Continue
		}
		return Exclude
	}
	if st.mumbleStage && len(b) == 24 && binary.BigEndian.Uint64(b[4:]) == st.mumbleIdent {
		c.Set(ProtoMumble, 0)
		return Done
	}
	return Exclude
}

// dissectTeamSpeak: TeamSpeak 3's "TS3INIT1" connection start on UDP, its
// accounting exchange (0x01 0x80|0x81 0x84 …), and TeamSpeak 2's TCP
// connection packet (0xF4 0xBE, version 1-3).
func dissectTeamSpeak(c *Ctx) Status {
	b := c.Payload
	if c.L4() == IPProtoTCP {
		if len(b) >= 20 && b[0] == 0xf4 && b[1] == 0xbe && b[2] >= 1 && b[2] <= 3 && b[3] == 0 {
			c.Set(ProtoTeamSpeak, 0)
			return Done
		}
		return Exclude
	}
	if len(b) >= 20 && bytes.HasPrefix(b, []byte("TS3INIT1")) {
		c.Set(ProtoTeamSpeak, 0)
		return Done
	}
	st := &c.s.realtime.app
	if len(b) >= 4 && b[0] == 0x01 && (b[1] == 0x80 || b[1] == 0x81) && b[2] == 0x84 && (b[3] == 1 || b[3] == 2) {
		st.tsStage++
		if st.tsStage == 3 {
			c.Set(ProtoTeamSpeak, 0)
			return Done
		}
		return Continue
	}
	return Exclude
}

// dissectTelegram: Telegram's MTProto over TCP to ports 443/80/25 in the
// "abridged" framing (0xEF, then a length in 4-byte words), and its UDP
// relays on ports 500-600, whose packets carry a run of twelve 0xFF bytes.
// A relay flow is then watched for the calls it carries (stunTelegram).
func dissectTelegram(c *Ctx) Status {
	if st := &c.s.realtime.stun; st.tgRelay {
		return stunTelegramExtra(c, st)
	}
	b := c.Payload
	if c.L4() == IPProtoTCP {
		if len(b) <= 56 {
			return Exclude
		}
		if dp := c.Pkt.DstPort; b[0] == 0xef && (dp == 443 || dp == 80 || dp == 25) &&
			(b[1] == 0x7f || int(b[1])*4 <= len(b)-1) {
			c.Set(ProtoTelegram, 0)
			return Done
		}
		return Exclude
	}
	sp, dp := c.Pkt.SrcPort, c.Pkt.DstPort
	if len(b) < 40 || !((sp >= 500 && sp <= 600) || (dp >= 500 && dp <= 600)) {
		return Exclude
	}
	i := bytes.IndexByte(b, 0xff)
	if i < 0 {
		return Continue
	}
	run := 1
	for i++; i < len(b) && b[i] == 0xff; i++ {
		run++
	}
	if run == 12 {
		c.Set(ProtoTelegram, 0)
		return stunTelegram(c)
	}
	return Exclude
}

// dissectSpotify: Spotify's LAN discovery broadcast ("SpotUdp" from and to
// port 57621) and its TCP access-point hello: protocol version 0x0004, a
// 4-byte length of the whole message, then the protobuf ClientHello, whose
// first field is the build info (tag 0x52: field 10, length-delimited).
func dissectSpotify(c *Ctx) Status {
	b := c.Payload
	if c.L4() == IPProtoUDP {
		if c.Pkt.SrcPort == 57621 && c.Pkt.DstPort == 57621 && bytes.HasPrefix(b, []byte("SpotUdp")) {
			c.Set(ProtoSpotify, 0)
			return Done
		}
		return Exclude
	}
	if len(b) >= 9 && b[0] == 0 && b[1] == 4 && binary.BigEndian.Uint32(b[2:]) >= uint32(len(b)) &&
		binary.BigEndian.Uint32(b[2:]) < 1<<16 && b[6] == 0x52 && b[8] == 0x50 {
		c.Set(ProtoSpotify, 0)
		return Done
	}
	return Exclude
}

// dissectTruPhone: TruPhone's chat is XMPP (RFC 6120 §4.7): the client's
// stream header addresses its domain, im.truphone.com. Other XMPP streams
// are left to the Jabber dissector.
func dissectTruPhone(c *Ctx) Status {
	b := c.Payload
	if !bytes.HasPrefix(b, []byte("<?xml")) && !bytes.HasPrefix(b, []byte("<stream:stream")) {
		return Exclude
	}
	if bytes.Contains(b, []byte("to='im.truphone.com'")) || bytes.Contains(b, []byte(`to="im.truphone.com"`)) {
		c.Set(ProtoTruPhone, 0)
		return Done
	}
	return Exclude
}
