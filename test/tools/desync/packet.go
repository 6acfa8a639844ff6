//go:build linux

package main

import (
	"encoding/binary"
	"errors"
)

// segment is a parsed IPv4/TCP packet (RFC 791, RFC 9293). Slices point
// into the original packet.
type segment struct {
	ip      []byte // IPv4 header with options
	tcp     []byte // TCP header with options
	payload []byte
	seq     uint32
	ack     uint32
	flags   byte
	sport   uint16
	dport   uint16
}

const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
	flagURG = 0x20
)

// mtu is the LAN link's: what one packet may carry.
const mtu = 1500

var errNotTCP4 = errors.New("not an unfragmented IPv4 or IPv6 TCP packet")

func parse(b []byte) (segment, error) {
	var s segment
	if len(b) < 20 {
		return s, errNotTCP4
	}
	var hl int
	switch b[0] >> 4 {
	case 4:
		hl = int(b[0]&0xf) * 4
		tot := int(binary.BigEndian.Uint16(b[2:4]))
		if b[9] != 6 || hl < 20 || tot < hl+20 || tot > len(b) || binary.BigEndian.Uint16(b[6:8])&0x3fff != 0 {
			return s, errNotTCP4
		}
		b = b[:tot]
	case 6:
		// RFC 8200: TCP right after the fixed header (the kernel's TCP
		// adds no extension headers).
		hl = 40
		if len(b) < 60 || b[6] != 6 || 40+int(binary.BigEndian.Uint16(b[4:6])) > len(b) {
			return s, errNotTCP4
		}
		b = b[:40+int(binary.BigEndian.Uint16(b[4:6]))]
	default:
		return s, errNotTCP4
	}
	t := b[hl:]
	if len(t) < 20 {
		return s, errNotTCP4
	}
	doff := int(t[12]>>4) * 4
	if doff < 20 || doff > len(t) {
		return s, errNotTCP4
	}
	s.ip, s.tcp, s.payload = b[:hl], t[:doff], t[doff:]
	s.sport = binary.BigEndian.Uint16(t[0:2])
	s.dport = binary.BigEndian.Uint16(t[2:4])
	s.seq = binary.BigEndian.Uint32(t[4:8])
	s.ack = binary.BigEndian.Uint32(t[8:12])
	s.flags = t[13]
	return s, nil
}

func (s segment) v6() bool { return s.ip[0]>>4 == 6 }

// fooling says how a decoy is made for the receiver to drop it while a
// middlebox might take it (the insertion tricks of Ptacek & Newsham).
type fooling struct {
	badsum bool   // TCP checksum wrong
	noack  bool   // ACK flag (and number) cleared
	md5    bool   // TCP MD5 signature option (RFC 2385) the server never agreed to
	seqInc int32  // added to the sequence number
	ackInc int32  // added to the acknowledgment number
	tsDec  uint32 // subtracted from TSval: an old timestamp PAWS rejects (RFC 7323 §5)
	ttl    uint8  // IP TTL, 0: the original's
}

// build makes a new IPv4/TCP packet from s's headers with the given
// sequence number, flags and data, applying the fooling. id is the IP
// identification.
func build(s segment, seq uint32, flags byte, data []byte, f fooling, id uint16) []byte {
	opts := append([]byte(nil), s.tcp[20:]...)
	if f.tsDec != 0 {
		for i := 0; i < len(opts); {
			k := opts[i]
			if k == 0 {
				break
			}
			if k == 1 {
				i++
				continue
			}
			if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
				break
			}
			if k == 8 && opts[i+1] == 10 {
				v := binary.BigEndian.Uint32(opts[i+2:])
				binary.BigEndian.PutUint32(opts[i+2:], v-f.tsDec)
			}
			i += int(opts[i+1])
		}
	}
	if f.md5 {
		// Kind 19, length 18, a 16-byte digest nobody can check, then two
		// NOPs to keep the header a multiple of four. Options hold 40
		// bytes at most: if the others leave no room, the signature
		// replaces them (it is a decoy either way).
		if len(opts)+20 > 40 {
			opts = opts[:0]
		}
		opts = append(opts, 19, 18, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 1)
	}
	for len(opts)%4 != 0 {
		opts = append(opts, 1)
	}
	ihl := len(s.ip)
	thl := 20 + len(opts)
	// A decoy with extra options may not fit the link: cut its data (it
	// still names its host early on).
	data = data[:min(len(data), max(0, mtu-ihl-thl))]
	p := make([]byte, ihl+thl+len(data))
	copy(p, s.ip)
	if s.v6() {
		binary.BigEndian.PutUint16(p[4:6], uint16(thl+len(data)))
		if f.ttl != 0 {
			p[7] = f.ttl // hop limit
		}
	} else {
		binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
		binary.BigEndian.PutUint16(p[4:6], id)
		binary.BigEndian.PutUint16(p[6:8], 0x4000) // DF, no fragment offset
		if f.ttl != 0 {
			p[8] = f.ttl
		}
	}
	t := p[ihl:]
	copy(t, s.tcp[:20])
	copy(t[20:], opts)
	copy(t[thl:], data)
	binary.BigEndian.PutUint32(t[4:8], seq+uint32(f.seqInc))
	ack := s.ack + uint32(f.ackInc)
	if f.noack {
		flags &^= flagACK
		ack = 0
	}
	binary.BigEndian.PutUint32(t[8:12], ack)
	t[12] = byte(thl/4) << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[18:20], 0) // urgent pointer
	finish(p, f.badsum)
	return p
}

// finish writes the IPv4 header checksum and the TCP checksum (wrong on
// purpose when bad).
func finish(p []byte, bad bool) {
	var t []byte
	var c uint16
	if p[0]>>4 == 6 {
		t = p[40:]
		t[16], t[17] = 0, 0
		c = tcpChecksum(p[8:24], p[24:40], t)
	} else {
		ihl := int(p[0]&0xf) * 4
		p[10], p[11] = 0, 0
		binary.BigEndian.PutUint16(p[10:12], ^fold(sum(0, p[:ihl])))
		t = p[ihl:]
		t[16], t[17] = 0, 0
		c = tcpChecksum(p[12:16], p[16:20], t)
	}
	if bad {
		c ^= 0x0f0f
	}
	binary.BigEndian.PutUint16(t[16:18], c)
}

// tcpChecksum is the RFC 9293 §3.1 checksum over the pseudo-header
// (IPv4's, or IPv6's of RFC 8200 §8.1 for 16-byte addresses) and the
// segment.
func tcpChecksum(src, dst, seg []byte) uint16 {
	acc := sum(sum(0, src), dst)
	acc += 6 + uint32(len(seg))>>16 + uint32(len(seg))&0xffff
	return ^fold(sum(acc, seg))
}

func sum(acc uint32, b []byte) uint32 {
	for len(b) >= 2 {
		acc += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

// fragments cuts an IPv4 packet's payload into two fragments at off bytes
// into the IP payload (rounded down to a multiple of 8, RFC 791).
func fragments(p []byte, off int) [][]byte {
	if p[0]>>4 != 4 {
		return [][]byte{p}
	}
	ihl := int(p[0]&0xf) * 4
	body := p[ihl:]
	off &^= 7
	if off <= 0 || off >= len(body) {
		return [][]byte{p}
	}
	mk := func(part []byte, fragOff int, more bool) []byte {
		f := make([]byte, ihl+len(part))
		copy(f, p[:ihl])
		copy(f[ihl:], part)
		binary.BigEndian.PutUint16(f[2:4], uint16(len(f)))
		v := uint16(fragOff / 8)
		if more {
			v |= 0x2000 // MF
		}
		binary.BigEndian.PutUint16(f[6:8], v)
		f[10], f[11] = 0, 0
		binary.BigEndian.PutUint16(f[10:12], ^fold(sum(0, f[:ihl])))
		return f
	}
	return [][]byte{mk(body[:off], 0, true), mk(body[off:], off, false)}
}
