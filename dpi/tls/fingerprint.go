package tls

import (
	"crypto/md5"
	"crypto/sha256"
	"slices"
	"strconv"
)

// JA4Style selects between two readings of the JA4 definition that differ
// in two details.
type JA4Style uint8

const (
	// JA4FoxIO follows FoxIO's published definition
	// (github.com/FoxIO-LLC/ja4, technical_details/JA4.md): the ALPN part
	// is the first and last character of the first ALPN value, and any SNI
	// extension counts as a domain ("d").
	JA4FoxIO JA4Style = iota
	// JA4NDPI reproduces what nDPI 4.11-dev (October 2024, the reference
	// of ips's conformance set) prints: the ALPN part is the first two
	// characters of the comma-joined ALPN list after its last character is
	// dropped ("h2" gives "h0", "http/1.1" gives "ht"), and the SNI letter
	// is "i" only for an SNI holding an IPv4 address ("d" even when the
	// hello has no SNI at all).
	JA4NDPI
)

// JA4 transport prefixes.
const (
	JA4TCP  byte = 't'
	JA4QUIC byte = 'q'
	JA4DTLS byte = 'd'
)

// AppendJA4 appends the JA4 fingerprint of h ("t13d1516h2_8daaf6152771_
// e5627efa2ab1") to dst. transport is JA4TCP, JA4QUIC or JA4DTLS.
func AppendJA4(dst []byte, h *ClientHello, transport byte, style JA4Style) []byte {
	dst = append(dst, transport)
	dst = append(dst, ja4Version(h.MaxVersion())...)
	sni := byte('i')
	switch {
	case style == JA4NDPI && !IsIPv4Literal(h.SNI):
		sni = 'd' // nDPI: "i" only for an address literal, even without SNI
	case style == JA4FoxIO && h.HasSNI:
		sni = 'd'
	}
	dst = append(dst, sni)
	dst = append2d(dst, min(h.NumCiphers, 99))
	dst = append2d(dst, min(h.NumExtensions, 99))
	a, b := ja4ALPN(h, style)
	dst = append(dst, a, b, '_')

	// One scratch buffer for both hash inputs: 5 bytes per value.
	var buf [5*MaxCiphers + 5*MaxExtensions + 5*MaxSigAlgs + 1]byte

	var sorted [MaxCiphers]uint16
	n := copy(sorted[:], h.Ciphers[:h.NumCiphers])
	slices.Sort(sorted[:n])
	in := buf[:0]
	for i, v := range sorted[:n] {
		if i > 0 {
			in = append(in, ',')
		}
		in = appendHex16(in, v)
	}
	dst = appendTruncSHA256(dst, in, n == 0)
	dst = append(dst, '_')

	var exts [MaxExtensions]uint16
	m := 0
	for _, e := range h.Extensions[:h.NumExtensions] {
		if e != ExtServerName && e != ExtALPN {
			exts[m] = e
			m++
		}
	}
	slices.Sort(exts[:m])
	in = buf[:0]
	for i, v := range exts[:m] {
		if i > 0 {
			in = append(in, ',')
		}
		in = appendHex16(in, v)
	}
	for i, v := range h.SigAlgs[:h.NumSigAlgs] {
		if i == 0 {
			in = append(in, '_')
		} else {
			in = append(in, ',')
		}
		in = appendHex16(in, v)
	}
	// nDPI hashes the (empty) list of a hello without extensions;
	// FoxIO writes zeros.
	return appendTruncSHA256(dst, in, h.NumExtensions == 0 && style == JA4FoxIO)
}

// ja4Version maps a protocol version to JA4's two characters.
func ja4Version(v uint16) string {
	switch v {
	case VersionTLS13:
		return "13"
	case VersionTLS12:
		return "12"
	case VersionTLS11:
		return "11"
	case VersionTLS10:
		return "10"
	case VersionSSL30:
		return "s3"
	case 0x0002:
		return "s2"
	case VersionDTLS10:
		return "d1"
	case VersionDTLS12:
		return "d2"
	case VersionDTLS13:
		return "d3"
	}
	return "00"
}

func ja4ALPN(h *ClientHello, style JA4Style) (byte, byte) {
	if style == JA4NDPI {
		var joined [256]byte
		s := AppendALPNList(joined[:0], h.ALPN, ',', len(joined)-2)
		if len(s) > 0 {
			s = s[:len(s)-1]
		}
		a, b := byte('0'), byte('0')
		if len(s) > 0 {
			a = s[0]
		}
		if len(s) > 1 {
			b = s[1]
		}
		return a, b
	}
	it := h.ALPNProtocols()
	p, ok := it.Next()
	if !ok || len(p) == 0 {
		return '0', '0'
	}
	first, last := p[0], p[len(p)-1]
	if isAlnum(first) && isAlnum(last) {
		return first, last
	}
	// Not alphanumeric: the first and last characters of the value's hex.
	const hexdig = "0123456789abcdef"
	return hexdig[first>>4], hexdig[last&0xf]
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// IsIPv4Literal reports whether b is a dotted-quad IPv4 address.
func IsIPv4Literal(b []byte) bool {
	parts, digits, val := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || val > 255 {
				return false
			}
			parts++
			digits, val = 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || digits == 3 {
			return false
		}
		val = val*10 + int(c-'0')
		digits++
	}
	return parts == 4
}

func append2d(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

func appendHex16(dst []byte, v uint16) []byte {
	const hexdig = "0123456789abcdef"
	return append(dst, hexdig[v>>12], hexdig[v>>8&0xf], hexdig[v>>4&0xf], hexdig[v&0xf])
}

func appendTruncSHA256(dst, in []byte, zero bool) []byte {
	if zero {
		return append(dst, "000000000000"...)
	}
	sum := sha256.Sum256(in)
	return appendHex(dst, sum[:6])
}

func appendHex(dst, b []byte) []byte {
	const hexdig = "0123456789abcdef"
	for _, x := range b {
		dst = append(dst, hexdig[x>>4], hexdig[x&0xf])
	}
	return dst
}

// AppendJA3 appends the JA3 string of h (Salesforce's definition:
// "version,ciphers,extensions,groups,point formats", decimal values joined
// by '-', GREASE removed).
func AppendJA3(dst []byte, h *ClientHello) []byte {
	dst = strconv.AppendUint(dst, uint64(h.Version), 10)
	dst = append(dst, ',')
	dst = appendDecList(dst, h.Ciphers[:h.NumCiphers])
	dst = append(dst, ',')
	dst = appendDecList(dst, h.Extensions[:h.NumExtensions])
	dst = append(dst, ',')
	dst = appendDecList(dst, h.Groups[:h.NumGroups])
	dst = append(dst, ',')
	for i, f := range h.PointFormats[:h.NumPointFormats] {
		if i > 0 {
			dst = append(dst, '-')
		}
		dst = strconv.AppendUint(dst, uint64(f), 10)
	}
	return dst
}

// AppendJA3S appends the JA3S string of s ("version,cipher,extensions").
func AppendJA3S(dst []byte, s *ServerHello) []byte {
	dst = strconv.AppendUint(dst, uint64(s.Version), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(s.Cipher), 10)
	dst = append(dst, ',')
	return appendDecList(dst, s.Extensions[:s.NumExtensions])
}

func appendDecList(dst []byte, l []uint16) []byte {
	for i, v := range l {
		if i > 0 {
			dst = append(dst, '-')
		}
		dst = strconv.AppendUint(dst, uint64(v), 10)
	}
	return dst
}

// AppendMD5Hex appends the lower-case hex MD5 of s, the form JA3 and JA3S
// are exchanged in.
func AppendMD5Hex(dst, s []byte) []byte {
	sum := md5.Sum(s)
	return appendHex(dst, sum[:])
}
