//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"ips/dpi/quic"
	"ips/internal/ascii"
)

// QUIC tricks on the client's first datagram (its first Initial packet,
// RFC 9000 §17.2.2): anyone who sees the Destination Connection ID can
// remove and reapply the Initial protection (RFC 9001 §5.2), so the tool
// decrypts the packet, rewrites its CRYPTO frames and protects it again
// with the same packet number. The server's TLS stack reassembles CRYPTO
// data by offset, so it reads the same ClientHello; a middlebox that
// expects the data in order, in one frame, does not.
//
//	quicreorder   the CRYPTO frame cut in the middle of the hostname, the
//	              second piece first
//	quicshuffle   the CRYPTO data around the hostname in 8-byte frames, in
//	              reverse order (browsers shuffle theirs too)

// rewriteInitial returns the UDP payload rewritten, or an error when the
// datagram is not a client Initial this can rewrite.
func rewriteInitial(dg []byte, mode, host string) ([]byte, error) {
	h, err := quic.ParseLongHeader(dg)
	if err != nil {
		return nil, err
	}
	if h.Type != quic.TypeInitial || h.PacketLen != len(dg) && !allPadding(dg[h.PacketLen:]) {
		return nil, errors.New("not a lone Initial packet")
	}
	keys, err := quic.ClientInitialKeys(h.Version, h.DCID)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, h.PacketLen)
	plain, pn, err := keys.Open(buf, dg, &h)
	if err != nil {
		return nil, err
	}
	pnLen := int(buf[0]&3) + 1
	type piece struct {
		off  uint64
		data []byte
	}
	var pieces []piece
	ping := false
	fr := quic.NewFrameReader(plain)
	for {
		f, ok := fr.Next()
		if !ok {
			break
		}
		switch f.Type {
		case quic.FrameCrypto:
			pieces = append(pieces, piece{f.Offset, f.Data})
		case quic.FramePing:
			ping = true
		default:
			return nil, fmt.Errorf("frame type %#x: not rewriting", f.Type)
		}
	}
	if fr.Err() != nil || len(pieces) == 0 {
		return nil, errors.New("no CRYPTO frames")
	}
	// Cut the pieces holding the hostname.
	var out []piece
	for _, p := range pieces {
		i := ascii.Index(p.data, strings.ToLower(host))
		if i < 0 {
			out = append(out, p)
			continue
		}
		var cuts []int
		switch mode {
		case "quicreorder":
			cuts = []int{i + len(host)/2}
		case "quicshuffle":
			for c := max(8, i-16) &^ 7; c < min(len(p.data), i+len(host)+8); c += 8 {
				cuts = append(cuts, c)
			}
		}
		prev := 0
		for _, c := range append(cuts, len(p.data)) {
			if c > prev {
				out = append(out, piece{p.off + uint64(prev), p.data[prev:c]})
				prev = c
			}
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	var payload []byte
	if ping {
		payload = append(payload, quic.FramePing)
	}
	for _, p := range out {
		payload = append(payload, quic.FrameCrypto)
		payload = appendVarint(payload, p.off)
		payload = appendVarint(payload, uint64(len(p.data)))
		payload = append(payload, p.data...)
	}
	// Keep at least the original size (the client padded to the 1200
	// bytes a server requires).
	for len(payload) < len(plain) {
		payload = append(payload, quic.FramePadding)
	}
	// The header as the client wrote it, unprotected, with the Length
	// field (just before the packet number) rewritten in its own size.
	hdr := append([]byte(nil), buf[:h.PNOffset+pnLen]...)
	lenOff := 6 + len(h.DCID) + 1 + len(h.SCID)
	_, tn := quic.ReadVarint(hdr[lenOff:])
	lenOff += tn + len(h.Token)
	newLen := uint64(pnLen + len(payload) + 16)
	switch h.PNOffset - lenOff {
	case 2:
		if newLen >= 1<<14 {
			return nil, errors.New("packet too long")
		}
		binary.BigEndian.PutUint16(hdr[lenOff:], uint16(newLen)|0x4000)
	case 4:
		binary.BigEndian.PutUint32(hdr[lenOff:], uint32(newLen)|0x80000000)
	default:
		return nil, errors.New("unexpected Length field size")
	}
	return keys.Seal(nil, hdr, payload, h.PNOffset, pnLen, pn), nil
}

func allPadding(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// appendVarint appends v as a QUIC variable-length integer (RFC 9000 §16).
func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return binary.BigEndian.AppendUint16(b, uint16(v)|0x4000)
	case v < 1<<30:
		return binary.BigEndian.AppendUint32(b, uint32(v)|0x80000000)
	}
	return binary.BigEndian.AppendUint64(b, v|0xc0<<56)
}

// udpPacket builds an IPv4/UDP packet from the original's addresses and
// ports with a new payload and a correct checksum (RFC 768).
func udpPacket(orig, payload []byte) []byte {
	ihl := int(orig[0]&0xf) * 4
	p := make([]byte, ihl+8+len(payload))
	copy(p, orig[:ihl+4])
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	binary.BigEndian.PutUint16(p[6:8], 0x4000)
	u := p[ihl:]
	binary.BigEndian.PutUint16(u[4:6], uint16(8+len(payload)))
	copy(u[8:], payload)
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:12], ^fold(sum(0, p[:ihl])))
	acc := sum(sum(0, p[12:16]), p[16:20]) + 17 + uint32(len(u))
	c := ^fold(sum(acc, u))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:8], c)
	return p
}
