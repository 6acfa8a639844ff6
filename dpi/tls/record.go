// Package tls parses the clear-text parts of TLS and DTLS handshakes —
// record and handshake headers, ClientHello, ServerHello and the leaf
// certificate of a Certificate message — and computes the JA3, JA3S and JA4
// fingerprints. It is written for deep packet inspection: every parser
// reads a byte slice into a caller-owned struct made of fixed-size arrays
// and sub-slices of the input, never allocates, never panics, and treats
// every length on the wire as hostile.
//
// Sub-slices (SNI, ALPN, certificate names) point into the caller's input
// and are valid only as long as that input is.
package tls

import "errors"

// Record content types (RFC 8446 §5.1, RFC 6347 §4.1).
const (
	RecordChangeCipherSpec uint8 = 20
	RecordAlert            uint8 = 21
	RecordHandshake        uint8 = 22
	RecordApplicationData  uint8 = 23
	RecordHeartbeat        uint8 = 24
)

// Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
const (
	TypeHelloRequest       uint8 = 0
	TypeClientHello        uint8 = 1
	TypeServerHello        uint8 = 2
	TypeHelloVerifyRequest uint8 = 3 // DTLS 1.0/1.2
	TypeNewSessionTicket   uint8 = 4
	TypeEncryptedExt       uint8 = 8
	TypeCertificate        uint8 = 11
	TypeServerKeyExchange  uint8 = 12
	TypeCertificateRequest uint8 = 13
	TypeServerHelloDone    uint8 = 14
	TypeCertificateVerify  uint8 = 15
	TypeClientKeyExchange  uint8 = 16
	TypeFinished           uint8 = 20
	TypeCertificateStatus  uint8 = 22
)

// Protocol versions as they appear on the wire.
const (
	VersionSSL30  uint16 = 0x0300
	VersionTLS10  uint16 = 0x0301
	VersionTLS11  uint16 = 0x0302
	VersionTLS12  uint16 = 0x0303
	VersionTLS13  uint16 = 0x0304
	VersionDTLS10 uint16 = 0xfeff
	VersionDTLS12 uint16 = 0xfefd
	VersionDTLS13 uint16 = 0xfefc
)

// Extension types the parsers look at (IANA TLS ExtensionType registry).
const (
	ExtServerName          uint16 = 0
	ExtSupportedGroups     uint16 = 10
	ExtECPointFormats      uint16 = 11
	ExtSignatureAlgorithms uint16 = 13
	ExtUseSRTP             uint16 = 14
	ExtALPN                uint16 = 16
	ExtPadding             uint16 = 21
	ExtEncryptThenMAC      uint16 = 22
	ExtSessionTicket       uint16 = 35
	ExtPreSharedKey        uint16 = 41
	ExtSupportedVersions   uint16 = 43
	ExtKeyShare            uint16 = 51
	ExtQUICParams          uint16 = 57
	ExtECH                 uint16 = 0xfe0d
	ExtQUICParamsDraft     uint16 = 0xffa5
	ExtESNI                uint16 = 0xffce // draft encrypted_server_name, superseded by ECH
	ExtRenegotiationInfo   uint16 = 0xff01
)

// RecordHeaderLen and DTLSRecordHeaderLen are the fixed record header sizes.
const (
	RecordHeaderLen     = 5
	DTLSRecordHeaderLen = 13
	// MaxRecordLen is the largest legal record payload: 2^14 plus the
	// expansion TLS 1.2 allows for compression and protection (RFC 5246
	// §6.2.3).
	MaxRecordLen = 16384 + 2048
)

// Errors. They carry no per-call data so returning them never allocates.
var (
	ErrShort     = errors.New("tls: message truncated")
	ErrMalformed = errors.New("tls: malformed message")
	ErrType      = errors.New("tls: unexpected message type")
)

// Record is a TLS record header (RFC 8446 §5.1).
type Record struct {
	Type    uint8
	Version uint16
	Length  int // payload length, excluding the header
}

// ParseRecord reads a TLS record header. It reports false unless b starts
// with a known content type, a 3.x version and a legal length; the payload
// itself need not be present.
func ParseRecord(b []byte) (Record, bool) {
	if len(b) < RecordHeaderLen {
		return Record{}, false
	}
	r := Record{Type: b[0], Version: uint16(b[1])<<8 | uint16(b[2]), Length: int(b[3])<<8 | int(b[4])}
	if r.Type < RecordChangeCipherSpec || r.Type > RecordHeartbeat || b[1] != 3 || b[2] > 4 || r.Length > MaxRecordLen {
		return Record{}, false
	}
	return r, true
}

// DTLSRecord is a DTLSPlaintext header (RFC 6347 §4.1, RFC 9147 §4).
type DTLSRecord struct {
	Type    uint8
	Version uint16
	Epoch   uint16
	Seq     uint64 // 48 bits
	Length  int
}

// ParseDTLSRecord reads a DTLSPlaintext record header. DTLS 1.3's unified
// header (encrypted records) is not DTLSPlaintext and is refused.
func ParseDTLSRecord(b []byte) (DTLSRecord, bool) {
	if len(b) < DTLSRecordHeaderLen {
		return DTLSRecord{}, false
	}
	r := DTLSRecord{
		Type:    b[0],
		Version: uint16(b[1])<<8 | uint16(b[2]),
		Epoch:   uint16(b[3])<<8 | uint16(b[4]),
		Length:  int(b[11])<<8 | int(b[12]),
	}
	for _, x := range b[5:11] {
		r.Seq = r.Seq<<8 | uint64(x)
	}
	if r.Type < RecordChangeCipherSpec || r.Type > RecordHeartbeat || r.Length > MaxRecordLen {
		return DTLSRecord{}, false
	}
	switch r.Version {
	case VersionDTLS10, VersionDTLS12, VersionDTLS13, 0x0100: // 0x0100: OpenSSL's pre-RFC DTLS
	default:
		return DTLSRecord{}, false
	}
	return r, true
}

// Handshake is a handshake message header (RFC 8446 §4).
type Handshake struct {
	Type   uint8
	Length int // body length
}

// HandshakeHeaderLen and DTLSHandshakeHeaderLen are the message header sizes.
const (
	HandshakeHeaderLen     = 4
	DTLSHandshakeHeaderLen = 12
)

// ParseHandshake reads a handshake message header.
func ParseHandshake(b []byte) (Handshake, bool) {
	if len(b) < HandshakeHeaderLen {
		return Handshake{}, false
	}
	return Handshake{Type: b[0], Length: int(b[1])<<16 | int(b[2])<<8 | int(b[3])}, true
}

// DTLSHandshake is a DTLS handshake header: the message may arrive in
// fragments, each carrying its offset (RFC 6347 §4.2.2).
type DTLSHandshake struct {
	Type       uint8
	Length     int // whole message body length
	MessageSeq uint16
	FragOffset int
	FragLength int
}

// ParseDTLSHandshake reads a DTLS handshake header.
func ParseDTLSHandshake(b []byte) (DTLSHandshake, bool) {
	if len(b) < DTLSHandshakeHeaderLen {
		return DTLSHandshake{}, false
	}
	h := DTLSHandshake{
		Type:       b[0],
		Length:     int(b[1])<<16 | int(b[2])<<8 | int(b[3]),
		MessageSeq: uint16(b[4])<<8 | uint16(b[5]),
		FragOffset: int(b[6])<<16 | int(b[7])<<8 | int(b[8]),
		FragLength: int(b[9])<<16 | int(b[10])<<8 | int(b[11]),
	}
	if h.FragOffset+h.FragLength > h.Length {
		return DTLSHandshake{}, false
	}
	return h, true
}

// IsGREASE reports whether v is one of the reserved GREASE values
// (RFC 8701 §2: 0x0A0A, 0x1A1A, …, 0xFAFA).
func IsGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

// cursor reads big-endian fields off a byte slice; every read checks
// bounds and a failed read leaves the cursor empty and marked bad.
type cursor struct {
	b   []byte
	bad bool
}

func (c *cursor) fail() { c.b, c.bad = nil, true }

func (c *cursor) u8() uint8 {
	if len(c.b) < 1 {
		c.fail()
		return 0
	}
	v := c.b[0]
	c.b = c.b[1:]
	return v
}

func (c *cursor) u16() uint16 {
	if len(c.b) < 2 {
		c.fail()
		return 0
	}
	v := uint16(c.b[0])<<8 | uint16(c.b[1])
	c.b = c.b[2:]
	return v
}

func (c *cursor) u24() int {
	if len(c.b) < 3 {
		c.fail()
		return 0
	}
	v := int(c.b[0])<<16 | int(c.b[1])<<8 | int(c.b[2])
	c.b = c.b[3:]
	return v
}

func (c *cursor) take(n int) []byte {
	if n < 0 || len(c.b) < n {
		c.fail()
		return nil
	}
	v := c.b[:n:n]
	c.b = c.b[n:]
	return v
}

func (c *cursor) vec8() []byte  { return c.take(int(c.u8())) }
func (c *cursor) vec16() []byte { return c.take(int(c.u16())) }
func (c *cursor) vec24() []byte { return c.take(c.u24()) }
func (c *cursor) empty() bool   { return len(c.b) == 0 }
