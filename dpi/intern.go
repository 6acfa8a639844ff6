package dpi

import "ips/internal/netmatch"

// interner hands out one shared string per distinct byte sequence, so that
// hostnames, fingerprints and user agents that repeat across flows cost no
// allocation after the first time. It is per engine (no locks) and bounded
// by count and by bytes (internBytes; a sender making up long distinct
// user agents or URLs reaches that first): when full it starts over,
// which only costs re-learning.
type interner struct {
	m    map[string]string
	max  int
	size int // bytes held, at internEntryCost per entry beside the string
}

const (
	// internBytes bounds what an interner holds, strings and map entries.
	internBytes = 8 << 20
	// internEntryCost is a map entry's share beside its string bytes (two
	// string headers and the table's overhead).
	internEntryCost = 48
)

func newInterner(max int) *interner {
	return &interner{m: make(map[string]string, 1024), max: max}
}

func (in *interner) bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := in.m[string(b)]; ok { // no allocation: the compiler looks up without converting
		return s
	}
	if len(in.m) >= in.max || in.size+len(b)+internEntryCost > internBytes {
		clear(in.m)
		in.size = 0
	}
	s := string(b)
	in.m[s] = s
	in.size += len(s) + internEntryCost
	return s
}

// lower interns b in lower case (hostnames compare case-insensitively).
func (in *interner) lower(b []byte) string {
	var buf [256]byte
	if len(b) > len(buf) {
		b = b[:len(buf)]
	}
	n := copy(buf[:], b)
	for i := range n {
		if c := buf[i]; 'A' <= c && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	return in.bytes(buf[:n])
}

// host interns b as the server would read it as a host name: the one
// normalisation of netmatch.AppendCanonicalHost (ASCII case folded, port,
// blanks and trailing dots dropped), so every dissector's name is matched
// against the policy and the catalog in the same form.
func (in *interner) host(b []byte) string {
	var buf [netmatch.MaxHostLen]byte
	return in.bytes(netmatch.AppendCanonicalHost(buf[:0], b))
}
