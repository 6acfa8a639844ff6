package pools

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"ips/internal/netmatch"
)

// HostKind says which names a hostname pattern matches.
type HostKind uint8

const (
	// Domain ("example.com"): the name itself and every name below it.
	Domain HostKind = iota
	// Subdomains ("*.example.com"): every name below, not the name itself.
	Subdomains
	// Exact ("=www.example.com"): the name only.
	Exact
)

// FormatHost writes a pattern back in the syntax ParseHostPattern reads.
func FormatHost(name string, k HostKind) string {
	switch k {
	case Subdomains:
		return "*." + name
	case Exact:
		return "=" + name
	}
	return name
}

// ParseHostPattern reads a hostname pattern: "example.com" (the domain and
// below), "*.example.com" (below only) or "=www.example.com" (exactly).
// Names are lower-cased; a trailing dot is dropped. Labels hold letters,
// digits, '-' and '_' (service labels), at most 63 bytes each and 253 in
// all; a '*' is only allowed as the whole first label.
func ParseHostPattern(s string) (string, HostKind, error) {
	b, k, err := AppendHostPattern(nil, []byte(s))
	if err != nil {
		return "", k, err
	}
	return string(b), k, nil
}

// AppendHostPattern is ParseHostPattern for a pattern held in a byte
// slice: it appends the lower-cased name to dst, allocating nothing but
// dst's growth, so that a list of millions of names is read without a
// string per name.
func AppendHostPattern(dst, s []byte) ([]byte, HostKind, error) {
	orig := s
	for _, c := range s {
		if c >= utf8.RuneSelf {
			// Read as ParseHostPattern always has: Unicode spaces
			// trimmed and Unicode case folded first ("\u212a.com", a
			// Kelvin sign, is "k.com").
			s = []byte(strings.ToLower(strings.TrimSpace(string(s))))
			break
		}
	}
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	k := Domain
	switch {
	case len(s) > 0 && s[0] == '=':
		k, s = Exact, s[1:]
	case len(s) > 1 && s[0] == '*' && s[1] == '.':
		k, s = Subdomains, s[2:]
	}
	if len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	if len(s) == 0 {
		return dst, k, fmt.Errorf("empty hostname %q", orig)
	}
	if len(s) > 253 {
		return dst, k, fmt.Errorf("hostname %q is longer than 253 bytes", orig)
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return dst, k, fmt.Errorf("hostname %q has an empty label", orig)
			}
			label = 0
			continue
		case c >= 'A' && c <= 'Z',
			c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '*':
			return dst, k, fmt.Errorf("hostname %q: '*' is only allowed as \"*.\" at the start", orig)
		default:
			return dst, k, fmt.Errorf("hostname %q: character %q not allowed in a hostname", orig, rune(c))
		}
		if label++; label > 63 {
			return dst, k, fmt.Errorf("hostname %q has a label longer than 63 bytes", orig)
		}
	}
	if label == 0 {
		return dst, k, fmt.Errorf("hostname %q has an empty label", orig)
	}
	n := len(dst)
	dst = append(dst, s...)
	for i := n; i < len(dst); i++ {
		if c := dst[i]; c >= 'A' && c <= 'Z' {
			dst[i] = c + 'a' - 'A'
		}
	}
	return dst, k, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// Hosts maps hostname patterns to values. Match visits the patterns that
// match a name from the most specific to the least: the exact name, then
// the name as a domain, then each parent domain (its "*." pattern before
// its plain one), so the longest suffix is found first. The names are
// kept in compact tables (netmatch.NameTable): a blocklist of 1.5 million
// names costs tens of megabytes, not a gigabyte.
type Hosts[T any] struct {
	exact, domain, sub *netmatch.NameTable[T]
}

// NewHosts returns an empty set.
func NewHosts[T any]() *Hosts[T] {
	return &Hosts[T]{exact: netmatch.NewNameTable[T](), domain: netmatch.NewNameTable[T](), sub: netmatch.NewNameTable[T]()}
}

func (h *Hosts[T]) table(k HostKind) *netmatch.NameTable[T] {
	switch k {
	case Exact:
		return h.exact
	case Subdomains:
		return h.sub
	}
	return h.domain
}

// Grow makes room for n more patterns of kind k, and textBytes more
// bytes of text.
func (h *Hosts[T]) Grow(k HostKind, n, textBytes int) { h.table(k).Grow(n, textBytes) }

// Table is the table of one kind of pattern, for callers that store a
// text with each name (netmatch.NameTable.PutAt).
func (h *Hosts[T]) Table(k HostKind) *netmatch.NameTable[T] { return h.table(k) }

// Get returns the value stored for a pattern.
func (h *Hosts[T]) Get(name string, k HostKind) (T, bool) { return h.table(k).Get(name) }

// GetBytes is Get for a name held in a byte slice.
func (h *Hosts[T]) GetBytes(name []byte, k HostKind) (T, bool) { return h.table(k).GetBytes(name) }

// Set stores v for a pattern (name as ParseHostPattern returns it).
func (h *Hosts[T]) Set(name string, k HostKind, v T) { h.table(k).Put(name, v) }

// SetBytes is Set for a name held in a byte slice (the set copies it).
func (h *Hosts[T]) SetBytes(name []byte, k HostKind, v T) { h.table(k).PutBytes(name, v) }

// Len is the number of patterns.
func (h *Hosts[T]) Len() int {
	if h == nil {
		return 0
	}
	return h.exact.Len() + h.domain.Len() + h.sub.Len()
}

// Match calls fn for the patterns matching host, most specific first,
// until fn returns true; it reports whether one did. Names are compared
// in lower case (host is lowered on the stack when it has capitals); a
// trailing dot is ignored. It allocates nothing.
func (h *Hosts[T]) Match(host string, fn func(v T) bool) bool {
	if h == nil || host == "" {
		return false
	}
	if host[len(host)-1] == '.' {
		host = host[:len(host)-1]
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c >= 'A' && c <= 'Z' {
			if len(host) > 253 {
				return false // not a hostname; no pattern can match
			}
			var buf [253]byte
			b := buf[:len(host)]
			for j := 0; j < len(host); j++ {
				c := host[j]
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				b[j] = c
			}
			return h.matchBytes(b, fn)
		}
	}
	if h.exact.Len() > 0 {
		if v, ok := h.exact.Get(host); ok && fn(v) {
			return true
		}
	}
	if v, ok := h.domain.Get(host); ok && fn(v) {
		return true
	}
	for s := host; ; {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return false
		}
		s = s[i+1:]
		if h.sub.Len() > 0 {
			if v, ok := h.sub.Get(s); ok && fn(v) {
				return true
			}
		}
		if v, ok := h.domain.Get(s); ok && fn(v) {
			return true
		}
	}
}

// matchBytes is Match over a lowered copy.
func (h *Hosts[T]) matchBytes(b []byte, fn func(v T) bool) bool {
	if v, ok := h.exact.GetBytes(b); ok && fn(v) {
		return true
	}
	if v, ok := h.domain.GetBytes(b); ok && fn(v) {
		return true
	}
	for s := b; ; {
		i := bytes.IndexByte(s, '.')
		if i < 0 {
			return false
		}
		s = s[i+1:]
		if v, ok := h.sub.GetBytes(s); ok && fn(v) {
			return true
		}
		if v, ok := h.domain.GetBytes(s); ok && fn(v) {
			return true
		}
	}
}

// Lookup returns the most specific value for host.
func (h *Hosts[T]) Lookup(host string) (v T, ok bool) {
	ok = h.Match(host, func(x T) bool { v = x; return true })
	return v, ok
}
