package pools

import (
	"bytes"
	"fmt"
	"strings"
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
	t := strings.ToLower(strings.TrimSpace(s))
	k := Domain
	switch {
	case strings.HasPrefix(t, "="):
		k, t = Exact, t[1:]
	case strings.HasPrefix(t, "*."):
		k, t = Subdomains, t[2:]
	}
	t = strings.TrimSuffix(t, ".")
	if t == "" {
		return "", k, fmt.Errorf("empty hostname %q", s)
	}
	if len(t) > 253 {
		return "", k, fmt.Errorf("hostname %q is longer than 253 bytes", s)
	}
	for _, label := range strings.Split(t, ".") {
		if label == "" {
			return "", k, fmt.Errorf("hostname %q has an empty label", s)
		}
		if len(label) > 63 {
			return "", k, fmt.Errorf("hostname %q has a label longer than 63 bytes", s)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c == '*':
				return "", k, fmt.Errorf("hostname %q: '*' is only allowed as \"*.\" at the start", s)
			default:
				return "", k, fmt.Errorf("hostname %q: character %q not allowed in a hostname", s, c)
			}
		}
	}
	return t, k, nil
}

// Hosts maps hostname patterns to values. Match visits the patterns that
// match a name from the most specific to the least: the exact name, then
// the name as a domain, then each parent domain (its "*." pattern before
// its plain one), so the longest suffix is found first.
type Hosts[T any] struct {
	exact, domain, sub map[string]T
}

// NewHosts returns an empty set.
func NewHosts[T any]() *Hosts[T] {
	return &Hosts[T]{exact: map[string]T{}, domain: map[string]T{}, sub: map[string]T{}}
}

func (h *Hosts[T]) table(k HostKind) map[string]T {
	switch k {
	case Exact:
		return h.exact
	case Subdomains:
		return h.sub
	}
	return h.domain
}

// Get returns the value stored for a pattern.
func (h *Hosts[T]) Get(name string, k HostKind) (T, bool) {
	v, ok := h.table(k)[name]
	return v, ok
}

// Set stores v for a pattern (name as ParseHostPattern returns it).
func (h *Hosts[T]) Set(name string, k HostKind, v T) { h.table(k)[name] = v }

// Len is the number of patterns.
func (h *Hosts[T]) Len() int {
	if h == nil {
		return 0
	}
	return len(h.exact) + len(h.domain) + len(h.sub)
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
	if len(h.exact) > 0 {
		if v, ok := h.exact[host]; ok && fn(v) {
			return true
		}
	}
	if v, ok := h.domain[host]; ok && fn(v) {
		return true
	}
	for s := host; ; {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return false
		}
		s = s[i+1:]
		if len(h.sub) > 0 {
			if v, ok := h.sub[s]; ok && fn(v) {
				return true
			}
		}
		if v, ok := h.domain[s]; ok && fn(v) {
			return true
		}
	}
}

// matchBytes is Match over a lowered copy; indexing a map with
// string(b) does not allocate.
func (h *Hosts[T]) matchBytes(b []byte, fn func(v T) bool) bool {
	if v, ok := h.exact[string(b)]; ok && fn(v) {
		return true
	}
	if v, ok := h.domain[string(b)]; ok && fn(v) {
		return true
	}
	for s := b; ; {
		i := bytes.IndexByte(s, '.')
		if i < 0 {
			return false
		}
		s = s[i+1:]
		if v, ok := h.sub[string(s)]; ok && fn(v) {
			return true
		}
		if v, ok := h.domain[string(s)]; ok && fn(v) {
			return true
		}
	}
}

// Lookup returns the most specific value for host.
func (h *Hosts[T]) Lookup(host string) (v T, ok bool) {
	ok = h.Match(host, func(x T) bool { v = x; return true })
	return v, ok
}
