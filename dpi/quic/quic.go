// Package quic reads what a passive observer can read of a QUIC
// handshake: long headers, the client's Initial packets (whose keys are
// derived from public values, RFC 9001 §5.2), their frames, and the TLS
// ClientHello carried in CRYPTO frames, reassembled by offset across
// packets. It covers QUIC v1 (RFC 9000/9001), v2 (RFC 9369), the drafts
// 22–34, Facebook's mvfst versions and Google's QUIC (Q0xx with a clear
// CHLO, Q050 and T050/T051 with encrypted Initials).
//
// Parsers never allocate and never panic; neither does deriving a
// connection's Initial keys into a Keys the caller owns, nor opening a
// packet with them (initial_crypto.go).
package quic

import (
	"encoding/binary"
	"errors"
)

// Versions with a name.
const (
	Version1      uint32 = 0x00000001
	Version2      uint32 = 0x6b3343cf
	VersionDraft  uint32 = 0xff000000 // | draft number
	VersionMVFST1 uint32 = 0xfaceb001 // mvfst, draft-22 keys
	VersionMVFST2 uint32 = 0xfaceb002 // mvfst, draft-27 keys
	VersionMVFSTE uint32 = 0xfaceb00e // mvfst experimental
	VersionQ050   uint32 = 0x51303530 // "Q050"
	VersionT050   uint32 = 0x54303530 // "T050"
	VersionT051   uint32 = 0x54303531 // "T051"
)

// Long header packet types, normalised to QUIC v1's numbering (v2 permutes
// the bits, RFC 9369 §3.2).
const (
	TypeInitial   uint8 = 0
	Type0RTT      uint8 = 1
	TypeHandshake uint8 = 2
	TypeRetry     uint8 = 3
)

// Errors, free of per-call data so returning them never allocates.
var (
	ErrShort   = errors.New("quic: packet truncated")
	ErrHeader  = errors.New("quic: malformed header")
	ErrVersion = errors.New("quic: unsupported version")
	// ErrDecrypt is not returned by Open, which does not verify tags
	// (see Keys.Open); it stays for callers that name it.
	ErrDecrypt = errors.New("quic: packet does not decrypt")
	ErrFrame   = errors.New("quic: malformed frame")
)

// IsGoogleVersion reports whether v is one of Google QUIC's versions
// ("Q0xx" or "T0xx").
func IsGoogleVersion(v uint32) bool {
	return v>>24 == 'Q' || v>>24 == 'T'
}

// GoogleVersionNumber returns the decimal number of a "Q0xx"/"T0xx"
// version (46 for "Q046"), or 0.
func GoogleVersionNumber(v uint32) int {
	if !IsGoogleVersion(v) {
		return 0
	}
	n := 0
	for _, c := range [3]byte{byte(v >> 16), byte(v >> 8), byte(v)} {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// versionParams are a version's Initial protection parameters.
type versionParams struct {
	salt   []byte
	prefix string // HKDF label prefix: "quic " or "quicv2 "
	v2     bool   // v2 packet type numbering
	tls    bool   // CRYPTO frames carry TLS (not Google's CHLO)
}

var (
	saltV1      = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}
	saltV2      = []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9}
	saltDraft29 = []byte{0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99}
	saltDraft23 = []byte{0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02}
	saltDraft22 = []byte{0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd, 0x7a, 0x02, 0x64, 0x4a}
	saltQ050    = []byte{0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0, 0xd3, 0xb5, 0x6b, 0x45}
	saltT050    = []byte{0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c, 0x60, 0x48, 0x83, 0x10}
	saltT051    = []byte{0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc, 0xda, 0x6e, 0x03, 0x3d}
)

// params returns the Initial parameters of an IETF-style version: v1 and
// drafts 33–34 share the final salt (RFC 9001 §5.2), drafts 29–32 and
// 23–28 and 22 have their own (draft-ietf-quic-tls-29 §5.2 and earlier).
func params(v uint32) (versionParams, bool) {
	switch v {
	case Version1:
		return versionParams{saltV1, "quic ", false, true}, true
	case Version2:
		return versionParams{saltV2, "quicv2 ", true, true}, true
	case VersionMVFST1:
		return versionParams{saltDraft22, "quic ", false, true}, true
	case VersionMVFST2, VersionMVFSTE:
		return versionParams{saltDraft23, "quic ", false, true}, true
	case VersionQ050:
		return versionParams{saltQ050, "quic ", false, false}, true
	case VersionT050:
		return versionParams{saltT050, "quic ", false, true}, true
	case VersionT051:
		return versionParams{saltT051, "quic ", false, true}, true
	}
	if v&0xffffff00 == VersionDraft {
		switch d := v & 0xff; {
		case d >= 33 && d <= 34:
			return versionParams{saltV1, "quic ", false, true}, true
		case d >= 29 && d <= 32:
			return versionParams{saltDraft29, "quic ", false, true}, true
		case d >= 23 && d <= 28:
			return versionParams{saltDraft23, "quic ", false, true}, true
		case d == 22:
			return versionParams{saltDraft22, "quic ", false, true}, true
		}
	}
	return versionParams{}, false
}

// Supported reports whether Initial packets of version v can be read.
func Supported(v uint32) bool {
	_, ok := params(v)
	return ok || IsGoogleVersion(v) && GoogleVersionNumber(v) >= 24 && GoogleVersionNumber(v) <= 46
}

// CarriesTLS reports whether version v carries a TLS ClientHello in its
// CRYPTO frames (Google's Q0xx versions carry a CHLO instead).
func CarriesTLS(v uint32) bool {
	p, ok := params(v)
	return ok && p.tls
}

// Header is a long header (RFC 9000 §17.2).
type Header struct {
	Type      uint8 // normalised: TypeInitial, Type0RTT, …
	Version   uint32
	DCID      []byte
	SCID      []byte
	Token     []byte // Initial only
	PNOffset  int    // offset of the (protected) packet number
	PacketLen int    // bytes of the datagram this packet occupies
}

// MaxCIDLen is the longest connection ID QUIC v1 allows.
const MaxCIDLen = 20

// ParseLongHeader parses the long header at the start of b (a datagram
// may hold several coalesced packets: b[PacketLen:] is the next one).
// Version negotiation packets (version 0) are refused.
func ParseLongHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < 7 || b[0]&0x80 == 0 {
		return h, ErrHeader
	}
	h.Version = binary.BigEndian.Uint32(b[1:5])
	if h.Version == 0 {
		return h, ErrHeader
	}
	p, known := params(h.Version)
	typ := b[0] >> 4 & 3
	if known && p.v2 {
		typ = (typ + 3) & 3 // v2: Initial 1, 0-RTT 2, Handshake 3, Retry 0
	}
	h.Type = typ
	off := 5
	dl := int(b[off])
	off++
	if dl > MaxCIDLen || off+dl >= len(b) {
		return h, ErrHeader
	}
	h.DCID = b[off : off+dl : off+dl]
	off += dl
	sl := int(b[off])
	off++
	if sl > MaxCIDLen || off+sl > len(b) {
		return h, ErrHeader
	}
	h.SCID = b[off : off+sl : off+sl]
	off += sl
	if h.Type == TypeRetry {
		h.PacketLen = len(b)
		return h, nil
	}
	if h.Type == TypeInitial {
		tl, n := ReadVarint(b[off:])
		if n == 0 || tl > uint64(len(b)-off-n) {
			return h, ErrShort
		}
		off += n
		h.Token = b[off : off+int(tl) : off+int(tl)]
		off += int(tl)
	}
	length, n := ReadVarint(b[off:])
	if n == 0 {
		return h, ErrShort
	}
	off += n
	if length > uint64(len(b)-off) {
		return h, ErrShort
	}
	h.PNOffset = off
	h.PacketLen = off + int(length)
	return h, nil
}

// ReadVarint reads a variable-length integer (RFC 9000 §16); n is 0 when
// b is too short.
func ReadVarint(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	n = 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0
	}
	v = uint64(b[0] & 0x3f)
	for _, x := range b[1:n] {
		v = v<<8 | uint64(x)
	}
	return v, n
}
