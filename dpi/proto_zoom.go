package dpi

import (
	"bytes"
	"encoding/binary"
)

// Zoom's media transport on UDP (ports 8801-8810) wraps RTP/RTCP in its
// own encapsulations (Michel et al., "Enabling Passive Measurement of
// Zoom Performance in Production Networks", IMC 2022): an 8-byte "SFU"
// header (type 1-5, sequence, direction) before a media header (type 13/30
// screen sharing, 15 audio, 16 video, 33-35 RTCP) whose length depends on
// the type. Peer-to-peer calls start with a 0x1F 0x02 0x01 hello listing
// an address and an id. Once media is seen the flow is SRTP.Zoom.

const (
	zoomSFULen   = 8
	zoomMediaLen = 15
	zoomExtra    = 4
)

func zoomPort(p uint16) bool { return p >= 8801 && p <= 8810 }

// zoomMedia reports whether b is a media-encapsulated RTP or RTCP packet.
func zoomMedia(b []byte) bool {
	if len(b) <= zoomMediaLen {
		return false
	}
	switch b[0] {
	case 13: // screen sharing: RTP not always there yet
		return len(b) > 27
	case 30:
		return len(b) > 20 && rtpKind(b[20:]) == rtpIsRTP
	case 15:
		return len(b) > 19 && rtpKind(b[19:]) == rtpIsRTP
	case 16:
		return len(b) > 24 && rtpKind(b[24:]) == rtpIsRTP
	case 33, 34, 35:
		return len(b) > 16 && rtpKind(b[16:]) == rtpIsRTCP
	}
	return false
}

// zoomSFU5 reports an SFU type 5 datagram carrying media.
func zoomSFU5(b []byte) bool {
	return len(b) > zoomSFULen+zoomMediaLen && b[0] == 5 && zoomMedia(b[zoomSFULen:])
}

func dissectZoom(c *Ctx) Status {
	b := c.Payload
	st := &c.s.realtime.app
	r := &c.Flow.Result
	if r.App == ProtoZoom {
		// Extra packets: look for media to name the transport.
		st.zoomChecked++
		if (!st.zoomP2P && zoomSFU5(b)) || (st.zoomP2P && zoomMedia(b)) {
			c.Set(ProtoSRTP, ProtoZoom)
			return Done
		}
		if st.zoomChecked >= zoomExtra {
			return Done
		}
		return More
	}
	if (zoomPort(c.ServerPort()) || zoomPort(c.ClientPort())) && len(b) > zoomSFULen {
		switch {
		case (b[0] == 1 || b[0] == 2) && b[1] == 0 && (b[2] == 2 || b[2] == 3):
			return zoomFound(c, 0)
		case b[0] == 3 || b[0] == 4:
			// A weak signature: give the other dissectors a few packets.
			if pktCount(c) < 4 {
				return Continue
			}
			return zoomFound(c, 0)
		case zoomSFU5(b):
			return zoomFound(c, ProtoSRTP)
		}
	} else if len(b) > 36 && bytes.HasPrefix(b, []byte{0x1f, 0x02, 0x01}) &&
		binary.BigEndian.Uint32(b[len(b)-4:]) == 0 {
		// Peer-to-peer hello: 24-byte header, length-prefixed address and
		// id, four zero bytes.
		ipLen := uint64(binary.BigEndian.Uint32(b[24:]))
		if 24+4+ipLen+4 < uint64(len(b)) {
			idLen := uint64(binary.BigEndian.Uint32(b[28+ipLen:]))
			if uint64(len(b)) == 24+4+ipLen+4+idLen+4 {
				st.zoomP2P = true
				return zoomFound(c, 0)
			}
		}
	}
	return Exclude
}

// zoomFound classifies the flow; without media yet it keeps looking.
func zoomFound(c *Ctx, master ProtoID) Status {
	c.Flow.Result.App = ProtoZoom
	if master != 0 {
		c.Set(master, ProtoZoom)
		return Done
	}
	c.Set(0, ProtoZoom)
	c.Pending(FieldApp) // media may still show, making it SRTP.Zoom
	return More
}
