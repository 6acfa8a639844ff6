package bencode

import "testing"

// Examples from BEP 3 ("bencoding") and the corner cases it rules out.
func TestSkip(t *testing.T) {
	cases := []struct {
		in   string
		end  int
		good bool
	}{
		{"4:spam", 6, true},
		{"0:", 2, true},
		{"i3e", 3, true},
		{"i-3e", 4, true},
		{"i0e", 3, true},
		{"i-0e", 0, false}, // BEP 3: i-0e is invalid
		{"i03e", 0, false}, // no leading zeros
		{"ie", 0, false},
		{"i3", 0, false},
		{"l4:spam4:eggse", 14, true},
		{"le", 2, true},
		{"d3:cow3:moo4:spam4:eggse", 24, true},
		{"d4:spaml1:a1:bee", 16, true},
		{"de", 2, true},
		{"d3:cowe", 0, false},       // key without value
		{"di1e3:mooe", 0, false},    // keys are strings
		{"5:spam", 0, false},        // string runs past the end
		{"05:spams", 0, false},      // leading zero length
		{"4spam", 0, false},         // no colon
		{"l4:spam", 0, false},       // unterminated list
		{"x", 0, false},             // not a value
		{"4:spamtrailing", 6, true}, // Skip stops after one value
		{"i12345678901234567890123e", 0, false},
	}
	for _, c := range cases {
		end, ok := Skip([]byte(c.in), 0)
		if ok != c.good || (ok && end != c.end) {
			t.Errorf("Skip(%q) = %d, %v; want %d, %v", c.in, end, ok, c.end, c.good)
		}
	}
}

func TestDepthBound(t *testing.T) {
	deep := make([]byte, 0, 2*(MaxDepth+2))
	for i := 0; i < MaxDepth+2; i++ {
		deep = append(deep, 'l')
	}
	for i := 0; i < MaxDepth+2; i++ {
		deep = append(deep, 'e')
	}
	if _, ok := Skip(deep, 0); ok {
		t.Error("nesting beyond MaxDepth accepted")
	}
	if _, ok := Skip(deep[MaxDepth/2+2:len(deep)-MaxDepth/2-2], 0); !ok {
		t.Error("shallow nesting rejected")
	}
}

func TestLookupAndString(t *testing.T) {
	// A BEP 5 ping query.
	msg := []byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe")
	v, ok := Lookup(msg, 0, "q")
	if !ok {
		t.Fatal("q not found")
	}
	if s, ok := String(msg, v); !ok || string(s) != "ping" {
		t.Errorf("q = %q, %v", s, ok)
	}
	a, ok := Lookup(msg, 0, "a")
	if !ok || msg[a] != 'd' {
		t.Fatal("a not a dict")
	}
	if v, ok := Lookup(msg, a, "id"); !ok {
		t.Error("a.id not found")
	} else if s, _ := String(msg, v); len(s) != 20 {
		t.Errorf("a.id %q", s)
	}
	if _, ok := Lookup(msg, 0, "zz"); ok {
		t.Error("found a missing key")
	}
	if _, ok := Lookup(msg, 3, "x"); ok {
		t.Error("Lookup on a non-dictionary")
	}
	if _, ok := Lookup([]byte("d1:a"), 0, "b"); ok {
		t.Error("Lookup past a truncated value")
	}
}

func TestNoAllocs(t *testing.T) {
	msg := []byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe")
	n := testing.AllocsPerRun(100, func() {
		Skip(msg, 0)
		v, _ := Lookup(msg, 0, "y")
		String(msg, v)
	})
	if n != 0 {
		t.Errorf("%v allocations per scan", n)
	}
}

func FuzzSkip(f *testing.F) {
	for _, s := range []string{
		"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
		"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
		"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
		"l4:spami42ee", "i-3e", "0:",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end, ok := Skip(b, 0)
		if ok && (end <= 0 || end > len(b)) {
			t.Fatalf("end %d out of range for %d bytes", end, len(b))
		}
		if v, ok := Lookup(b, 0, "y"); ok {
			if v < 0 || v > len(b) {
				t.Fatalf("value offset %d", v)
			}
			String(b, v)
		}
		for i := 0; i < len(b) && i < 8; i++ {
			Skip(b, i)
			String(b, i)
		}
	})
}
