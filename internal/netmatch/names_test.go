package netmatch

import (
	"fmt"
	"strings"
	"testing"
)

// TestNameTable checks the table against a map: hits, misses, replaced
// values, names written inside a caller's text, growth, and lookups that
// allocate nothing.
func TestNameTable(t *testing.T) {
	tab := NewNameTable[int]()
	ref := map[string]int{}
	for i := 0; i < 20000; i++ {
		name := fmt.Sprintf("n%d.example%d.com", i*7919%100003, i%13)
		switch i % 3 {
		case 0:
			tab.Put(name, i)
		case 1:
			tab.PutBytes([]byte(name), i)
		default:
			if tab.Index(name) >= 0 {
				tab.Put(name, i)
				break
			}
			tab.WriteString("before ")
			at := tab.TextLen()
			tab.WriteString(name)
			tab.WriteString(" after")
			if got := tab.PutAt(at, len(name), i); got != tab.Len()-1 {
				t.Fatalf("PutAt = %d, want %d", got, tab.Len()-1)
			}
		}
		ref[name] = i
		if i == 5000 {
			tab.Grow(15000, 15000*24)
		}
	}
	if tab.Len() != len(ref) {
		t.Fatalf("Len %d, want %d", tab.Len(), len(ref))
	}
	for name, want := range ref {
		if v, ok := tab.Get(name); !ok || v != want {
			t.Fatalf("Get(%q) = %d %v, want %d", name, v, ok, want)
		}
		if v, ok := tab.GetBytes([]byte(name)); !ok || v != want {
			t.Fatalf("GetBytes(%q) = %d %v, want %d", name, v, ok, want)
		}
		i := tab.Index(name)
		if tab.key(i) != name || *tab.Value(i) != want {
			t.Fatalf("entry %d is %q %d, want %q %d", i, tab.key(i), *tab.Value(i), name, want)
		}
	}
	for _, miss := range []string{"", "n0.example0.co", "x", "n0.example0.com.", strings.Repeat("a", 300)} {
		if _, ok := ref[miss]; ok {
			continue
		}
		if v, ok := tab.Get(miss); ok {
			t.Errorf("Get(%q) = %d, want a miss", miss, v)
		}
	}
	if tab.Put(strings.Repeat("a", 256), 1) {
		t.Errorf("a name of 256 bytes was stored")
	}
	seen := 0
	tab.Each(func(name string, v int) {
		if ref[name] != v {
			t.Errorf("Each: %q %d", name, v)
		}
		seen++
	})
	if seen != len(ref) {
		t.Errorf("Each saw %d", seen)
	}
	b := []byte("n1.example1.com")
	// A name over 32 bytes: converting it to a string would allocate.
	long := strings.Repeat("long", 16) + ".example"
	tab.Put(long, 64)
	lb := []byte(long)
	if v, ok := tab.GetBytes(lb); !ok || v != 64 {
		t.Errorf("GetBytes(%q) = %d, %v", long, v, ok)
	}
	if n := testing.AllocsPerRun(100, func() { tab.Get("n5.example5.com"); tab.GetBytes(b); tab.GetBytes(lb); tab.Index("nothing.here") }); n != 0 {
		t.Errorf("lookups allocate %v times", n)
	}
}

func FuzzNameTable(f *testing.F) {
	f.Add([]byte("a\x00b\x00a\x00c.d\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab := NewNameTable[int]()
		ref := map[string]int{}
		for i, name := range strings.Split(string(b), "\x00") {
			if len(name) > 255 {
				continue
			}
			tab.Put(name, i)
			ref[name] = i
		}
		if tab.Len() != len(ref) {
			t.Fatalf("Len %d, want %d", tab.Len(), len(ref))
		}
		for name, want := range ref {
			if v, ok := tab.Get(name); !ok || v != want {
				t.Fatalf("Get(%q) = %d %v, want %d", name, v, ok, want)
			}
			_, in := ref[name+"x"]
			if _, ok := tab.Get(name + "x"); ok != in {
				t.Fatalf("Get(%q) = %v, want %v", name+"x", ok, in)
			}
		}
	})
}
