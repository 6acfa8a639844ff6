package netmatch

import (
	"net/netip"
	"testing"
)

func TestPrefixTableLongestMatch(t *testing.T) {
	tab := NewPrefixTable([]PrefixEntry[string]{
		{netip.MustParsePrefix("10.0.0.0/8"), "ten"},
		{netip.MustParsePrefix("10.1.0.0/16"), "ten-one"},
		{netip.MustParsePrefix("10.1.2.3/32"), "host"},
		{netip.MustParsePrefix("10.200.0.0/16"), "ten-200"},
		{netip.MustParsePrefix("192.168.0.1/24"), "lan"}, // host bits set: masked
		{netip.MustParsePrefix("0.0.0.0/0"), "all4"},
		{netip.MustParsePrefix("2001:db8::/32"), "doc"},
		{netip.MustParsePrefix("2001:db8:1::/48"), "doc1"},
		{netip.MustParsePrefix("::/0"), "all6"},
	})
	cases := map[string]string{
		"10.0.0.1": "ten", "10.1.0.1": "ten-one", "10.1.2.3": "host", "10.1.2.4": "ten-one",
		"10.2.0.0": "ten", "10.200.5.5": "ten-200", "10.255.255.255": "ten", "11.0.0.0": "all4",
		"192.168.0.77": "lan", "192.168.1.1": "all4", "0.0.0.0": "all4", "255.255.255.255": "all4",
		"2001:db8::1": "doc", "2001:db8:1::5": "doc1", "2001:db8:2::": "doc", "fe80::1": "all6",
		"::ffff:10.1.2.3": "host",
	}
	for a, want := range cases {
		got, ok := tab.Lookup(netip.MustParseAddr(a))
		if !ok || got != want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", a, got, ok, want)
		}
	}
}

func TestPrefixTableMiss(t *testing.T) {
	tab := NewPrefixTable([]PrefixEntry[int]{
		{netip.MustParsePrefix("10.0.0.0/24"), 1},
		{netip.MustParsePrefix("10.0.2.0/24"), 2},
		{netip.MustParsePrefix("255.255.255.255/32"), 3},
	})
	for _, a := range []string{"9.255.255.255", "10.0.1.0", "10.0.3.0", "::1"} {
		if v, ok := tab.Lookup(netip.MustParseAddr(a)); ok {
			t.Errorf("Lookup(%s) = %d, want miss", a, v)
		}
	}
	if v, ok := tab.Lookup(netip.MustParseAddr("255.255.255.255")); !ok || v != 3 {
		t.Errorf("broadcast: %d %v", v, ok)
	}
	var nilTab *PrefixTable[int]
	if _, ok := nilTab.Lookup(netip.MustParseAddr("1.2.3.4")); ok {
		t.Error("nil table matched")
	}
}

func TestPrefixTableDuplicateLaterWins(t *testing.T) {
	tab := NewPrefixTable([]PrefixEntry[int]{
		{netip.MustParsePrefix("10.0.0.0/8"), 1},
		{netip.MustParsePrefix("10.0.0.0/8"), 2},
	})
	if v, _ := tab.Lookup(netip.MustParseAddr("10.9.9.9")); v != 2 {
		t.Errorf("got %d, want 2", v)
	}
}

func TestPrefixTableZeroAlloc(t *testing.T) {
	var es []PrefixEntry[int]
	for i := 0; i < 1000; i++ {
		es = append(es, PrefixEntry[int]{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24), i})
	}
	tab := NewPrefixTable(es)
	a := netip.MustParseAddr("10.3.5.7")
	if n := testing.AllocsPerRun(100, func() { tab.Lookup(a) }); n != 0 {
		t.Fatalf("Lookup allocates %v", n)
	}
	if v, _ := tab.Lookup(a); v != 3*256+5 {
		t.Fatalf("got %d", v)
	}
}

func TestSuffixSet(t *testing.T) {
	s := NewSuffixSet[string]()
	s.Add("example.com", false, "suffix")
	s.Add("*.Deep.Example.com.", false, "deep")
	s.Add("exact.example.com", true, "exact")
	s.Add("example.com", true, "apex")
	cases := map[string]string{
		"example.com": "apex", "www.example.com": "suffix", "a.deep.example.com": "deep",
		"deep.example.com": "deep", "exact.example.com": "exact", "x.exact.example.com": "suffix",
		"example.com.": "apex",
	}
	for h, want := range cases {
		if got, _, ok := s.Lookup(h); !ok || got != want {
			t.Errorf("Lookup(%s) = %q %v, want %q", h, got, ok, want)
		}
	}
	for _, h := range []string{"notexample.com", "com", "", "example.org"} {
		if v, _, ok := s.Lookup(h); ok {
			t.Errorf("Lookup(%s) = %q, want miss", h, v)
		}
	}
	if n := testing.AllocsPerRun(100, func() { s.Lookup("a.b.c.www.example.com") }); n != 0 {
		t.Fatalf("Lookup allocates %v", n)
	}
}

func FuzzPrefixTable(f *testing.F) {
	f.Add([]byte{10, 0, 0, 0, 8, 10, 1, 0, 0, 16}, []byte{10, 1, 2, 3})
	f.Fuzz(func(t *testing.T, prefixes []byte, addr []byte) {
		var es []PrefixEntry[int]
		for i := 0; i+5 <= len(prefixes); i += 5 {
			a := netip.AddrFrom4([4]byte(prefixes[i : i+4]))
			es = append(es, PrefixEntry[int]{netip.PrefixFrom(a, int(prefixes[i+4])%33), i})
		}
		tab := NewPrefixTable(es)
		if len(addr) < 4 {
			return
		}
		a := netip.AddrFrom4([4]byte(addr[:4]))
		got, ok := tab.Lookup(a)
		// Reference: the longest containing prefix, later entries winning ties.
		best, bestBits, found := 0, -1, false
		for _, e := range es {
			if e.Prefix.Masked().Contains(a) && e.Prefix.Bits() >= bestBits {
				best, bestBits, found = e.Value, e.Prefix.Bits(), true
			}
		}
		if ok != found || (ok && got != best) {
			t.Fatalf("Lookup(%v) = %d %v, want %d %v (entries %v)", a, got, ok, best, found, es)
		}
	})
}
