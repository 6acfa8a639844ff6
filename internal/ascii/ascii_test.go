package ascii

import (
	"bytes"
	"strings"
	"testing"
)

func TestFold(t *testing.T) {
	if !EqualFold([]byte("WwW.ExAmple.COM"), []byte("www.example.com")) || EqualFold([]byte("a"), []byte("ab")) {
		t.Error("EqualFold")
	}
	// Bytes outside A-Z compare exactly: no Unicode folding of invalid UTF-8.
	if EqualFold([]byte{0xc0}, []byte{0xe0}) || Equal([]byte("\xff"), "\xfe") {
		t.Error("non-ASCII bytes folded")
	}
	if !Equal([]byte("Content-Type"), "content-type") || Equal([]byte("Content-Typ"), "content-type") {
		t.Error("Equal")
	}
	if !HasPrefix([]byte("GNUTELLA CONNECT/0.6"), "gnutella") || HasPrefix([]byte("GNU"), "gnutella") {
		t.Error("HasPrefix")
	}
	if !HasSuffix([]byte("2.SeCURednS.aVasT.CoM"), "securedns.avast.com") || HasSuffix([]byte("com"), ".com") {
		t.Error("HasSuffix")
	}
	if Index([]byte("User-Agent: Shareaza 2.7"), "shareaza") != 12 || Index([]byte("x"), "xy") != -1 || !Contains([]byte("aBc"), "bc") {
		t.Error("Index/Contains")
	}
	if n := testing.AllocsPerRun(100, func() { Index([]byte("some longer haystack text"), "text") }); n != 0 {
		t.Errorf("Index allocates %v", n)
	}
}

func FuzzFold(f *testing.F) {
	f.Add([]byte("Hello"), "hello")
	f.Fuzz(func(t *testing.T, b []byte, s string) {
		s = strings.ToLower(s)
		lb := make([]byte, len(b))
		for i, c := range b {
			lb[i] = byte(asciiLower(rune(c)))
		}
		want := bytes.Equal(lb, []byte(s))
		if isASCIIish(s) && Equal(b, s) != want {
			t.Fatalf("Equal(%q, %q) = %v", b, s, !want)
		}
		if i := Index(b, s); i >= 0 && !Equal(b[i:i+len(s)], s) {
			t.Fatalf("Index(%q, %q) = %d", b, s, i)
		}
	})
}

func asciiLower(r rune) rune {
	if 'A' <= r && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// isASCIIish: the reference above is only exact for strings whose bytes
// strings.ToLower left alone apart from A-Z.
func isASCIIish(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
