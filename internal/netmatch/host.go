package netmatch

import "bytes"

// MaxHostLen is the longest name AppendCanonicalHost returns: a DNS name in
// text form without its trailing dot (RFC 1035 §2.3.4: 255 octets on the
// wire, 253 characters written out).
const MaxHostLen = 253

// AppendCanonicalHost appends to dst the name a server compares when it
// reads b as the host it is asked for (TLS SNI, HTTP Host or an
// absolute-form authority, QUIC SNI, a DNS question), so that the engine
// and the policy see the one name the server sees, however the client
// spelt it:
//
//   - leading and trailing blanks (HTTP's optional white space) are
//     dropped, and the name ends at the first control byte or blank left:
//     a server refuses a host with either (RFC 9110 §7.2, RFC 3986 §3.2.2),
//     so nothing after one can be a name it serves;
//   - a port is dropped: "example.com:8080" → "example.com" (servers cut
//     at the colon whatever follows it); a bracketed IPv6 literal loses
//     its port and its brackets: "[2001:DB8::1]:443" → "2001:db8::1", the
//     form a bare address with several colons keeps (brackets around
//     anything else stay, so the result reads the same twice);
//   - trailing dots are dropped: "example.com." is the same name (RFC 1034
//     §3.1), and nginx and the DNS treat it so;
//   - ASCII letters are folded to lower case (RFC 4343); other bytes, UTF-8
//     of an unencoded IDN included, are kept as they are, and A-labels
//     ("xn--…") stay encoded (the policy's names are written that way);
//   - a name longer than MaxHostLen keeps its rightmost whole labels, so a
//     long made-up prefix cannot push a blocked domain out of sight.
//
// The result is idempotent (canonical in, the same out) and never longer
// than MaxHostLen; it allocates nothing when dst has room.
func AppendCanonicalHost(dst, b []byte) []byte {
	b = trimBlanks(b)
	for i, c := range b {
		if c <= ' ' || c == 0x7f {
			b = b[:i]
			break
		}
	}
	bracket := false
	if len(b) > 0 && b[0] == '[' {
		// An IP literal (RFC 3986 §3.2.2): up to the closing bracket.
		end := len(b)
		for i := 1; i < len(b); i++ {
			if b[i] == ']' {
				end = i
				break
			}
		}
		b, bracket = b[1:end], true
		// Cut before judging what the literal is: the judgement must be
		// the one a second reading of the result makes.
		if len(b) > MaxHostLen-2 {
			b = b[:MaxHostLen-2]
		}
		if _, n := colons(b); n >= 2 && bytes.IndexByte(b, '[') < 0 {
			bracket = false // an IPv6 address: written bare, as a bare one is
		}
	} else if i, n := colons(b); n == 1 {
		b = b[:i] // host:port
	}
	if !bracket {
		for len(b) > 0 && b[len(b)-1] == '.' {
			b = b[:len(b)-1]
		}
		if len(b) > MaxHostLen {
			b = b[len(b)-MaxHostLen:]
			for i, c := range b {
				if c == '.' {
					b = b[i+1:]
					break
				}
			}
			// What is left may read differently on its own (a colon, a
			// bracket): canonicalise it once more, now short enough.
			return AppendCanonicalHost(dst, b)
		}
	}
	if len(b) == 0 {
		return dst
	}
	if bracket {
		dst = append(dst, '[')
	}
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	if bracket {
		dst = append(dst, ']')
	}
	return dst
}

// CanonicalHost is AppendCanonicalHost for a string (policy files, tests);
// it returns s itself when s is already canonical.
func CanonicalHost(s string) string {
	var buf [MaxHostLen]byte
	out := AppendCanonicalHost(buf[:0], []byte(s))
	if string(out) == s {
		return s
	}
	return string(out)
}

// colons returns the index of the first colon in b and the number of
// colons.
func colons(b []byte) (first, n int) {
	first = -1
	for i, c := range b {
		if c == ':' {
			if n == 0 {
				first = i
			}
			n++
		}
	}
	return first, n
}

func trimBlanks(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
