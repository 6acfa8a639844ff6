package netmatch

import (
	"strings"
	"testing"
)

func TestCanonicalHost(t *testing.T) {
	long := strings.Repeat("a", 60) + "."
	cases := []struct{ in, want string }{
		{"blocked.example", "blocked.example"},
		{"BLOCKED.Example", "blocked.example"},
		{"blocked.example.", "blocked.example"},
		{"blocked.example..", "blocked.example"},
		{"Blocked.Example.:8443", "blocked.example"},
		{"blocked.example:80", "blocked.example"},
		{"blocked.example:", "blocked.example"},
		{"blocked.example:abc", "blocked.example"}, // servers cut at the colon
		{" \tblocked.example \t", "blocked.example"},
		{"blocked.example extra", "blocked.example"},
		{"blocked.example\x00.allowed.example", "blocked.example"},
		{"blocked.example\r\n", "blocked.example"},
		{"[2001:DB8::1]:443", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"[::1", "::1"},
		{"[::1.]", "::1"},
		{"[a:b]:80", "[a:b]"}, // not an IPv6 address: brackets kept, so it stays one host
		{"[Name]", "[name]"},
		{"[]", ""},
		{"2001:DB8::1", "2001:db8::1"}, // bare IPv6: several colons, no port
		{"192.0.2.1:80", "192.0.2.1"},
		{"xn--BCHER-KVA.example", "xn--bcher-kva.example"},
		{"b\xc3\xbccher.EXAMPLE", "b\xc3\xbccher.example"}, // UTF-8 kept, ASCII folded
		{"", ""},
		{":80", ""},
		{".", ""},
		{"...", ""},
		{strings.Repeat(long, 5) + "Blocked.Example", strings.Repeat(long, 3) + "blocked.example"},
	}
	for _, c := range cases {
		got := string(AppendCanonicalHost(nil, []byte(c.in)))
		if got != c.want {
			t.Errorf("AppendCanonicalHost(%q) = %q, want %q", c.in, got, c.want)
		}
		if s := CanonicalHost(c.in); s != c.want {
			t.Errorf("CanonicalHost(%q) = %q, want %q", c.in, s, c.want)
		}
		if again := CanonicalHost(got); again != got {
			t.Errorf("not idempotent: %q → %q → %q", c.in, got, again)
		}
	}
}

// TestCanonicalHostMatchesSuffixSet: what the normaliser gives is what a
// SuffixSet built from the same names finds, whatever the spelling.
func TestCanonicalHostMatchesSuffixSet(t *testing.T) {
	s := NewSuffixSet[int]()
	s.Add("Blocked.Example.", false, 1)
	for _, spelling := range []string{"blocked.example", "WWW.BLOCKED.EXAMPLE.", "x.blocked.example:443", " Blocked.example\t"} {
		if _, _, ok := s.Lookup(CanonicalHost(spelling)); !ok {
			t.Errorf("%q: not matched after normalisation (%q)", spelling, CanonicalHost(spelling))
		}
	}
	if _, _, ok := s.Lookup(CanonicalHost("notblocked.example")); ok {
		t.Error("notblocked.example matched blocked.example")
	}
}

func TestCanonicalHostAllocs(t *testing.T) {
	in := []byte("WWW.Blocked.Example.:443")
	var buf [MaxHostLen]byte
	if n := testing.AllocsPerRun(100, func() { AppendCanonicalHost(buf[:0], in) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// FuzzCanonicalHost: no panics, bounded, idempotent, free of what a
// server refuses in a host (blanks, control bytes, upper-case ASCII), and
// what a SuffixSet keyed by the output finds again.
func FuzzCanonicalHost(f *testing.F) {
	for _, s := range []string{"Blocked.Example.:443", "[::1]:80", "[::1.]", "[[::1]", "a:b:c", " x ", "..", "[a]b", strings.Repeat("ab.", 120)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendCanonicalHost(nil, []byte(s))
		if len(out) > MaxHostLen {
			t.Fatalf("%q: %d bytes", s, len(out))
		}
		for _, c := range out {
			if c <= ' ' || c == 0x7f || 'A' <= c && c <= 'Z' {
				t.Fatalf("%q → %q holds %q", s, out, c)
			}
		}
		if again := AppendCanonicalHost(nil, out); string(again) != string(out) {
			t.Fatalf("not idempotent: %q → %q → %q", s, out, again)
		}
		if len(out) > 0 && out[0] != '[' {
			if out[len(out)-1] == '.' {
				t.Fatalf("%q → %q ends with a dot", s, out)
			}
			set := NewSuffixSet[bool]()
			set.Add(string(out), true, true)
			if _, _, ok := set.Lookup(string(out)); !ok && !strings.HasPrefix(string(out), "*.") && !strings.HasPrefix(string(out), ".") {
				t.Fatalf("%q: a set of %q does not find it", s, out)
			}
		}
	})
}
