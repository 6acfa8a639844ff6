package policy

import (
	"os"
	"strings"
	"testing"

	"ips/dpi"
	"ips/pools"
)

var fuzzFlows = []flow{
	{local: "10.1.2.3", remote: "7.1.1.1", r: classified(dpi.ProtoTLS, dpi.ProtoYouTube, "www.youtube.com")},
	{local: "172.16.5.5", mac: "02:81:27:b5:f9:f3", remote: "5.1.1.1", r: withRisks(classified(dpi.ProtoHTTP, 0, "a.b"), dpi.RiskNumericIPHost)},
	{local: "2001:db8::1", remote: "2001:db8:1::1", r: partial(dpi.ProtoQUIC, 0, "", dpi.FieldApp)},
}

func fuzzSeeds(f *testing.F) {
	for _, p := range []string{"nprobe-example.conf", "block-tor.json", "block-bittorrent.json", "office.json"} {
		b, err := os.ReadFile("../examples/policies/" + p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"policy":{"id":0,"markers":{"hostnames":[]},"flow_risk":{"bitmap":18446744073709551615,"marker":"drop"}}}`))
	f.Add([]byte("{\"pool\":{\"id\":1,\"ip\":[\"10.0.0.1/8\"],\"mac\":[\"AA:bb:cc:dd:ee:ff\"]},\"policy\":{\"id\":1}}\n{\"policy\":{\"id\":1,\"root\":1}}"))
	f.Add([]byte(`{"version":1,"policies":[{"id":0,"parent":0}],"shapers":[{"name":"s","rate":"1e3kbit"}]}`))
	// Ports and risk exceptions.
	f.Add([]byte(`{"version":1,"risk_exceptions":[{"hosts":["10.1.2.3","::ffff:7.1.1.0/120","*.b"],"risks":["NUMERIC_IP_HOST",6]}],"policies":[{"id":0,"default_marker":"pass","markers":{"ports":{"tcp/22":"drop","udp/1-100":1,"sctp/*":"drop","ipproto/47":"reject","tcp/20-30":2}}}]}`))
	f.Add([]byte(`{"risk_exceptions":[{"hosts":"a.b","risks":["x"]}]}` + "\n" + `{"policy":{"id":0,"markers":{"ports":{"udp/9-1":"drop","tcp/65535":3}}}}` + "\n"))
	// Hostnames tables are read lazily: escapes, duplicates, bad values.
	f.Add([]byte(`{"version":1,"pools":[{"name":"p","ip":["10.0.0.0/8"],"policy":1}],"policies":[{"id":0,"markers":{"hostnames":{"a.b":"drop","A.B.":"pass","\u0041.c":2,"*.d.e":"reject","=f":{}}}},{"id":1,"parent":0,"markers":{"hostnames":{"g":true,"h":1.5}}}]}`))
	f.Add([]byte("{\"policy\":{\"id\":0,\"hostnames\":{\"x.y\":\"drop\",\"x.y\":\"pass\"},\"markers\":{\"hostnames\":{\"z\":7}}}}\n{\"policy\":{\"id\":2,\"root\":9,\"markers\":{\"hostnames\":{\"w\" \"drop\"}}}}\n"))
}

// fuzzParse loads arbitrary bytes in the given format: it must never
// panic, positions must be inside the file, and a Set that loads must
// judge flows.
func fuzzParse(t *testing.T, b []byte, format Format) {
	s, rep, err := Parse("fuzz.conf", b, LoadOptions{Format: format})
	lines := strings.Count(string(b), "\n") + 1
	check := func(d Diagnostic) {
		if d.File == "fuzz.conf" && (d.Line < 0 || d.Line > lines) {
			t.Fatalf("diagnostic outside the file: %v", d)
		}
	}
	if el, ok := err.(ErrorList); ok {
		if len(el) == 0 {
			t.Fatal("empty error list")
		}
		for _, d := range el {
			check(d)
		}
	}
	for _, d := range rep.Warnings {
		check(d)
	}
	if (s == nil) == (err == nil) {
		t.Fatalf("set %v with error %v", s != nil, err)
	}
	if s == nil {
		return
	}
	for _, fl := range fuzzFlows {
		d := s.Evaluate(fl.input())
		_ = d.Explain()
	}
}

func FuzzParseNProbe(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { fuzzParse(t, b, FormatNProbe) })
}

func FuzzParseNative(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { fuzzParse(t, b, FormatNative) })
}

func FuzzCategoryFile(f *testing.F) {
	for _, s := range []string{"evil.example\n", "# c\n10.0.0.0/8\tMalware\n", "a.example 100\n*.b.example Mining\n=c.example 99\n", "x y z\n", "::1 7"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &diags{}
		parseCategoryFile(newSrcFile("cats", b), dpi.CategoryMalware, d, func(e catEntry) {
			if !e.cat.Valid() || e.cat == 0 {
				t.Fatalf("entry with category %d", e.cat)
			}
			if !e.isAddr && len(e.host) == 0 {
				t.Fatal("entry with neither host nor address")
			}
			if !e.isAddr {
				// The name is what ParseHostPattern makes of it.
				if h, k, err := pools.ParseHostPattern(string(e.host)); err != nil || h != string(e.host) || (k != pools.Domain && e.kind == pools.Domain) {
					t.Fatalf("entry %q (kind %d) does not read back: %q %d %v", e.host, e.kind, h, k, err)
				}
			}
		})
	})
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"10mbit", "1.5gbit", "500kbps", "1000", "2 Mbit/s", "", "x", "1e309bit"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseRate(s)
		if err == nil && (v < 1 || v > 1e15) {
			t.Fatalf("%q -> %d", s, v)
		}
	})
}

func TestParseRate(t *testing.T) {
	cases := map[string]uint64{"10mbit": 10e6, "1.5gbit": 1.5e9, "500kbps": 4e6, "1000": 1000, "2 Mbit/s": 2e6, "1tbit": 1e12, "3bps": 24}
	for s, want := range cases {
		if v, err := parseRate(s); err != nil || v != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", s, v, err, want)
		}
	}
	for _, s := range []string{"", "mbit", "1..2mbit", "10 mb", "-1mbit", "0"} {
		if _, err := parseRate(s); err == nil {
			t.Errorf("parseRate(%q): want an error", s)
		}
	}
}

// FuzzPortKey: a ports key that parses is one protocol's non-empty range,
// and its canonical spelling parses to the same range.
func FuzzPortKey(f *testing.F) {
	for _, s := range []string{"tcp/22", "UDP/27000-27050", "sctp/*", "ipproto/47", "ipproto/6", "tcp/70000", "tpc/22", "udp/9-1", "tcp/-", "/", "tcp/1-2-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, canon, err := parsePortKey(s)
		if err != nil {
			return
		}
		if lo > hi || lo>>16 != hi>>16 || hi>>16 > 255 {
			t.Fatalf("%q -> %x-%x", s, lo, hi)
		}
		lo2, hi2, canon2, err := parsePortKey(canon)
		if err != nil || lo2 != lo || hi2 != hi || canon2 != canon {
			t.Fatalf("%q -> %q -> %x-%x %q %v", s, canon, lo2, hi2, canon2, err)
		}
	})
}
