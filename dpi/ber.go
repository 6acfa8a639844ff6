package dpi

// berTLV reads one BER/DER element (ITU-T X.690 §8.1) at b[off]: a
// single-byte tag (the protocols read here use no high tag numbers), a
// definite length in short or long form (up to four bytes). It returns the
// tag, the offset of the contents and their length; ok is false when the
// header is malformed or runs past b. The contents may extend past b
// (a message split over packets): callers check what they read.
func berTLV(b []byte, off int) (tag byte, start, n int, ok bool) {
	if off < 0 || off+2 > len(b) {
		return 0, 0, 0, false
	}
	tag = b[off]
	if tag&0x1f == 0x1f {
		return 0, 0, 0, false
	}
	l := int(b[off+1])
	start = off + 2
	if l < 0x80 {
		return tag, start, l, true
	}
	k := l & 0x7f
	if k == 0 || k > 4 || start+k > len(b) {
		return 0, 0, 0, false
	}
	l = 0
	for i := 0; i < k; i++ {
		l = l<<8 | int(b[start+i])
	}
	if l < 0 || l > 1<<24 {
		return 0, 0, 0, false
	}
	return tag, start + k, l, true
}

// berInt reads a small INTEGER element (at most 4 content bytes) at off,
// returning its value and the offset after it.
func berInt(b []byte, off int) (v int64, next int, ok bool) {
	tag, s, n, ok := berTLV(b, off)
	if !ok || tag != 0x02 || n < 1 || n > 4 || s+n > len(b) {
		return 0, 0, false
	}
	v = int64(int8(b[s]))
	for i := 1; i < n; i++ {
		v = v<<8 | int64(b[s+i])
	}
	return v, s + n, true
}
