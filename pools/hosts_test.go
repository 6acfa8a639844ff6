package pools

import "testing"

func TestParseHostPattern(t *testing.T) {
	cases := []struct {
		in   string
		name string
		kind HostKind
	}{
		{"www.gstatic.com", "www.gstatic.com", Domain},
		{"WWW.Example.COM.", "www.example.com", Domain},
		{"*.example.com", "example.com", Subdomains},
		{"=www.example.com", "www.example.com", Exact},
		{"_dmarc.example.com", "_dmarc.example.com", Domain},
		{"localhost", "localhost", Domain},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", Domain},
	}
	for _, c := range cases {
		n, k, err := ParseHostPattern(c.in)
		if err != nil || n != c.name || k != c.kind {
			t.Errorf("ParseHostPattern(%q) = %q, %v, %v; want %q, %v", c.in, n, k, err, c.name, c.kind)
		}
		if got := FormatHost(n, k); k == c.kind {
			if n2, k2, _ := ParseHostPattern(got); n2 != n || k2 != k {
				t.Errorf("FormatHost round trip %q -> %q", c.in, got)
			}
		}
	}
	for _, s := range []string{"", "=", "*.", "a..b", "www.*.com", "ex ample.com", "exa/mple.com", "*example.com", ".", string(make([]byte, 300))} {
		if _, _, err := ParseHostPattern(s); err == nil {
			t.Errorf("ParseHostPattern(%q): want an error", s)
		}
	}
}

func TestHostsMatchOrder(t *testing.T) {
	h := NewHosts[string]()
	h.Set("example.com", Domain, "domain")
	h.Set("example.com", Subdomains, "sub")
	h.Set("www.example.com", Exact, "exact")
	h.Set("a.b.example.com", Domain, "deep")
	h.Set("com", Domain, "tld")
	cases := map[string]string{
		"example.com":       "domain", // a "*." pattern does not match the name itself
		"www.example.com":   "exact",
		"www.example.com.":  "exact",
		"x.www.example.com": "sub", // the exact pattern does not match below
		"mail.example.com":  "sub", // "*." beats the plain pattern one level up
		"a.b.example.com":   "deep",
		"z.a.b.example.com": "deep",
		"other.com":         "tld",
		"com":               "tld",
		"WWW.Example.COM.":  "exact", // names from the wire may carry capitals
		"Mail.EXAMPLE.com":  "sub",
	}
	for host, want := range cases {
		got, ok := h.Lookup(host)
		if !ok || got != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", host, got, ok, want)
		}
	}
	if _, ok := h.Lookup("example.org"); ok {
		t.Error("example.org matched")
	}
	if _, ok := h.Lookup(""); ok {
		t.Error("empty host matched")
	}
	// Match walks on to less specific patterns while fn declines.
	var seen []string
	h.Match("z.a.b.example.com", func(v string) bool { seen = append(seen, v); return false })
	want := []string{"deep", "sub", "domain", "tld"}
	if len(seen) != len(want) {
		t.Fatalf("visited %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("visited %v, want %v", seen, want)
		}
	}
	for _, host := range []string{"z.a.b.example.com", "Z.A.B.Example.Com"} {
		if n := testing.AllocsPerRun(100, func() { h.Lookup(host) }); n != 0 {
			t.Errorf("Lookup(%q) allocates %v times", host, n)
		}
	}
}
