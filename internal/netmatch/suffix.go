package netmatch

import "strings"

// SuffixSet maps domain names to values: an entry for "example.com" matches
// "example.com" and every name below it; an exact entry matches only itself.
// The longest matching name wins, and an exact entry beats a suffix entry of
// the same name. Lookups allocate nothing. Names are compared in lower case.
type SuffixSet[T any] struct {
	suffix map[string]T
	exact  map[string]T
}

// NewSuffixSet returns an empty set ready for Add.
func NewSuffixSet[T any]() *SuffixSet[T] {
	return &SuffixSet[T]{suffix: map[string]T{}, exact: map[string]T{}}
}

// Normalize strips a leading "*." or "." from a domain name pattern and
// canonicalises the rest as CanonicalHost does (ASCII case folded, a
// trailing dot dropped), so "*.Example.COM." and "example.com" are the
// same key, and the key is what the engine's canonical names look up.
func Normalize(name string) string {
	name = strings.Trim(name, " \t\r\n") // ASCII only: other bytes are part of the name
	name = strings.TrimPrefix(name, "*.")
	name = strings.TrimPrefix(name, ".")
	return CanonicalHost(name)
}

// Add puts name into the set. With exact, only the name itself matches.
// A later Add of the same key replaces the earlier one.
func (s *SuffixSet[T]) Add(name string, exact bool, v T) {
	name = Normalize(name)
	if exact {
		s.exact[name] = v
	} else {
		s.suffix[name] = v
	}
}

// Len is the number of names in the set.
func (s *SuffixSet[T]) Len() int {
	if s == nil {
		return 0
	}
	return len(s.suffix) + len(s.exact)
}

// Lookup finds the most specific entry for host, which must already be in
// lower case (callers normalise once per flow, not per lookup). It returns
// the matched key too, for explanations.
func (s *SuffixSet[T]) Lookup(host string) (v T, key string, ok bool) {
	if s == nil || host == "" {
		return v, "", false
	}
	if len(host) > 0 && host[len(host)-1] == '.' {
		host = host[:len(host)-1]
	}
	if v, ok := s.exact[host]; ok {
		return v, host, true
	}
	if len(s.suffix) == 0 {
		return v, "", false
	}
	for h := host; ; {
		if v, ok := s.suffix[h]; ok {
			return v, h, true
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			return v, "", false
		}
		h = h[i+1:]
	}
}
