package pools

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzParseMAC checks that any accepted MAC prints back to an equal value.
func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"e8:06:88:ff:fe:e4", "E8-06-88-FF-FE-E4", "e806.88ff.fee4", "e80688fffee4", "", "::::::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMAC(s)
		if err != nil {
			return
		}
		m2, err := ParseMAC(m.String())
		if err != nil || m2 != m {
			t.Fatalf("%q -> %v -> %v, %v", s, m, m2, err)
		}
	})
}

// FuzzParseMember checks that accepted entries are masked prefixes that
// parse back to themselves.
func FuzzParseMember(f *testing.F) {
	for _, s := range []string{"192.168.0.1/24", "10.0.0.0/8", "2a03:b0c0:2:d0::360:4001/48", "192.168.1.100", "::ffff:1.2.3.4/120", "", "1.2.3.4/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseMember(s)
		if err != nil {
			return
		}
		if p != p.Masked() {
			t.Fatalf("%q -> %v not masked", s, p)
		}
		p2, err := ParseMember(p.String())
		if err != nil || p2 != p {
			t.Fatalf("%q -> %v -> %v, %v", s, p, p2, err)
		}
	})
}

// FuzzHostPattern checks that accepted patterns round-trip and that a
// pattern matches the names it should.
func FuzzHostPattern(f *testing.F) {
	for _, s := range []string{"www.gstatic.com", "*.example.com", "=a.b", "A.B.", "", "*.", "a..b", "x*y"} {
		f.Add(s)
	}
	f.Add("\u212a.com")
	f.Add(" \u00a0a.b\u2003")
	f.Fuzz(func(t *testing.T, s string) {
		name, k, err := ParseHostPattern(s)
		// The byte-slice reader is the string one's reference.
		if rn, rk, rerr := referenceHostPattern(s); (err == nil) != (rerr == nil) || err == nil && (name != rn || k != rk) {
			t.Fatalf("%q: %q %v %v, reference %q %v %v", s, name, k, err, rn, rk, rerr)
		}
		if err != nil {
			return
		}
		n2, k2, err := ParseHostPattern(FormatHost(name, k))
		if err != nil || n2 != name || k2 != k {
			t.Fatalf("%q -> %q,%v -> %q,%v,%v", s, name, k, n2, k2, err)
		}
		h := NewHosts[bool]()
		h.Set(name, k, true)
		_, self := h.Lookup(name)
		_, below := h.Lookup("x." + name)
		if _, upper := h.Lookup(strings.ToUpper(name)); upper != self {
			t.Fatalf("%q: upper-case lookup %v, lower-case %v", name, upper, self)
		}
		if self != (k != Subdomains) || below != (k != Exact) || strings.ContainsAny(name, "*= ") {
			t.Fatalf("%q (%v): self %v below %v", name, k, self, below)
		}
	})
}

// referenceHostPattern is ParseHostPattern as first written, on strings,
// which the allocation-free AppendHostPattern must agree with.
func referenceHostPattern(s string) (string, HostKind, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	k := Domain
	switch {
	case strings.HasPrefix(t, "="):
		k, t = Exact, t[1:]
	case strings.HasPrefix(t, "*."):
		k, t = Subdomains, t[2:]
	}
	t = strings.TrimSuffix(t, ".")
	if t == "" || len(t) > 253 {
		return "", k, fmt.Errorf("bad")
	}
	for _, label := range strings.Split(t, ".") {
		if label == "" || len(label) > 63 {
			return "", k, fmt.Errorf("bad")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", k, fmt.Errorf("bad")
			}
		}
	}
	return t, k, nil
}
