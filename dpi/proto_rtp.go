package dpi

import "encoding/binary"

// RTP and RTCP (RFC 3550) have no magic number, so a flow is named only
// after several consecutive packets agree: three RTP packets whose
// sequence numbers move, or four RTCP packets. Over TCP they are framed
// by a 2-byte length (RFC 4571).

// rtpState is RTP's per-flow state.
type rtpState struct {
	stage, rtcpStage uint8
	seqSet           [2]bool
	seq              [2]uint16
}

type rtpClass uint8

const (
	rtpNone rtpClass = iota
	rtpIsRTP
	rtpIsRTCP
)

// rtpPayloadType reports the payload types RTP profiles assign (RFC 3551
// §6: 0-34 static, 96-127 dynamic); 72-76 would collide with RTCP.
func rtpPayloadType(pt uint8) bool { return pt <= 34 || (pt >= 96 && pt <= 127) }

// rtpKind classifies one datagram as an RTP packet (RFC 3550 §5.1), an
// RTCP packet (§6.4, packet types 192-213) or neither.
func rtpKind(b []byte) rtpClass {
	if len(b) < 2 || b[0]&0xC0 != 0x80 { // version 2
		return rtpNone
	}
	if rtpPayloadType(b[1]&0x7F) && len(b) >= 12 {
		cc := int(b[0] & 0x0F)
		need := 12 + 4*cc
		if b[0]&0x10 != 0 { // header extension (§5.3.1)
			need += 4
			if need > len(b) {
				return rtpNone
			}
			need += 4 * int(binary.BigEndian.Uint16(b[need-2:]))
		}
		if need > len(b) {
			return rtpNone
		}
		// Padding is not checked: SRTP encrypts it and several packets may
		// share a datagram.
		return rtpIsRTP
	}
	if b[1] >= 192 && b[1] <= 213 && len(b) >= 8 {
		if (int(binary.BigEndian.Uint16(b[2:]))+1)*4 > len(b) {
			return rtpNone
		}
		return rtpIsRTCP
	}
	return rtpNone
}

// dissectRTP finds plain RTP and RTCP flows.
func dissectRTP(c *Ctx) Status {
	b := c.Payload
	if c.L4() == IPProtoTCP {
		if len(b) < 4 || int(binary.BigEndian.Uint16(b))+2 != len(b) {
			return Exclude
		}
		b = b[2:]
	} else {
		// Ports of protocols that look alike (Ethereum's discovery, mDNS,
		// LLMNR, FINS) and well-known services are not RTP.
		sp, dp := c.Pkt.SrcPort, c.Pkt.DstPort
		if sp == 30303 || dp == 30303 || dp == 5353 || dp == 5355 || dp == 9600 || dp <= 1023 {
			return Exclude
		}
	}
	st := &c.s.realtime.rtp
	if pktCount(c) > 3 && st.stage == 0 && st.rtcpStage == 0 {
		return Exclude
	}
	switch rtpKind(b) {
	case rtpIsRTP:
		seq := binary.BigEndian.Uint16(b[2:])
		d := c.Dir
		if st.stage == 2 {
			// Consecutive packets of one stream carry different sequence
			// numbers; a repeated one means this is something else.
			if st.seqSet[d] && st.seq[d] == seq {
				*st = rtpState{}
				return Exclude
			}
			c.Set(ProtoRTP, 0)
			return Done
		}
		if st.stage == 0 {
			st.seq[d], st.seqSet[d] = seq, true
		}
		st.stage++
	case rtpIsRTCP:
		if st.stage > 0 {
			break // RTCP beside RTP: keep counting RTP
		}
		if st.rtcpStage == 3 {
			c.Set(ProtoRTCP, 0)
			return Done
		}
		st.rtcpStage++
	default:
		if st.stage > 0 || st.rtcpStage > 0 {
			// Something else in the middle of the stream (STUN keepalives
			// are handled by the STUN dissector): not a media flow.
			if !stunDTLSRecord(c.Payload) {
				*st = rtpState{}
				return Exclude
			}
		}
	}
	return Continue
}
