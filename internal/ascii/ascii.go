// Package ascii compares bytes off the wire with names ignoring ASCII case
// only (RFC 4343 for DNS; HTTP field names and tokens likewise), without
// converting to strings and without allocating. Bytes outside A–Z are
// compared exactly, so invalid UTF-8 never folds into a match.
package ascii

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// EqualFold reports whether a and b are equal ignoring ASCII case.
func EqualFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// Equal reports whether b equals the lower-case string s ignoring case.
func Equal(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// HasPrefix reports whether b starts with the lower-case s ignoring case.
func HasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && Equal(b[:len(s)], s)
}

// HasSuffix reports whether b ends with the lower-case s ignoring case.
func HasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && Equal(b[len(b)-len(s):], s)
}

// Index finds the lower-case s in b ignoring case; -1 when absent.
func Index(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if Equal(b[i:i+len(s)], s) {
			return i
		}
	}
	return -1
}

// Contains reports whether b contains the lower-case s ignoring case.
func Contains(b []byte, s string) bool { return Index(b, s) >= 0 }
