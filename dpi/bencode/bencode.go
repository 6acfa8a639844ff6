// Package bencode scans bencoded data (BitTorrent's encoding, BEP 3) in
// place: it validates values, walks dictionaries and finds keys without
// building anything, so it allocates nothing and is safe on any input.
//
// The grammar (BEP 3 "bencoding"):
//
//	integer    i<decimal>e        no leading zeros, "-0" is invalid
//	string     <length>:<bytes>   length in decimal, no leading zeros
//	list       l<values>e
//	dictionary d<string><value>...e   keys are strings
package bencode

// MaxDepth bounds nesting so that hostile input cannot recurse deeply.
const MaxDepth = 32

// Skip returns the offset just past the value that starts at b[i], or
// ok=false when no complete, well-formed value starts there.
func Skip(b []byte, i int) (end int, ok bool) {
	return skip(b, i, 0)
}

func skip(b []byte, i, depth int) (int, bool) {
	if i < 0 || i >= len(b) || depth > MaxDepth {
		return 0, false
	}
	switch c := b[i]; {
	case c == 'i':
		return skipInt(b, i+1)
	case c >= '0' && c <= '9':
		_, end, ok := str(b, i)
		return end, ok
	case c == 'l':
		i++
		for i < len(b) && b[i] != 'e' {
			var ok bool
			if i, ok = skip(b, i, depth+1); !ok {
				return 0, false
			}
		}
		if i >= len(b) {
			return 0, false
		}
		return i + 1, true
	case c == 'd':
		i++
		for i < len(b) && b[i] != 'e' {
			_, next, ok := str(b, i)
			if !ok {
				return 0, false
			}
			if i, ok = skip(b, next, depth+1); !ok {
				return 0, false
			}
		}
		if i >= len(b) {
			return 0, false
		}
		return i + 1, true
	}
	return 0, false
}

// skipInt scans the digits of an integer after its 'i'.
func skipInt(b []byte, i int) (int, bool) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	n := i - digits
	if n == 0 || n > 20 || i >= len(b) || b[i] != 'e' {
		return 0, false
	}
	if b[digits] == '0' && (n > 1 || digits > start) { // leading zero or -0
		return 0, false
	}
	return i + 1, true
}

// str parses the string at b[i]: its bytes and the offset past it.
func str(b []byte, i int) (s []byte, end int, ok bool) {
	if i >= len(b) || b[i] < '0' || b[i] > '9' {
		return nil, 0, false
	}
	if b[i] == '0' && i+1 < len(b) && b[i+1] != ':' {
		return nil, 0, false // leading zero
	}
	n := 0
	for ; i < len(b) && b[i] != ':'; i++ {
		c := b[i]
		if c < '0' || c > '9' || n > len(b) {
			return nil, 0, false
		}
		n = n*10 + int(c-'0')
	}
	if i >= len(b) {
		return nil, 0, false
	}
	i++ // ':'
	if n > len(b)-i {
		return nil, 0, false
	}
	return b[i : i+n], i + n, true
}

// String returns the string value at b[i].
func String(b []byte, i int) (s []byte, ok bool) {
	s, _, ok = str(b, i)
	return s, ok
}

// Lookup finds key in the dictionary at b[i] and returns the offset of its
// value. The dictionary must be well formed up to the key.
func Lookup(b []byte, i int, key string) (val int, ok bool) {
	if i < 0 || i >= len(b) || b[i] != 'd' {
		return 0, false
	}
	i++
	for i < len(b) && b[i] != 'e' {
		k, next, ok := str(b, i)
		if !ok {
			return 0, false
		}
		if string(k) == key {
			return next, true
		}
		if i, ok = skip(b, next, 1); !ok {
			return 0, false
		}
	}
	return 0, false
}
