package netmatch

import (
	"hash/maphash"
	"math/bits"
	"strings"
)

// NameTable maps names (byte strings of at most 255 bytes, such as
// hostnames) to values, compactly enough for blocklists of millions of
// names: the names are stored back to back in one text, found through an
// index of 32-bit entry numbers, and the values sit in one slice. A
// map[string]T costs a string header, its own allocation for the bytes
// and the map's overhead per entry; this costs the name's bytes plus
// about 11 bytes and the value.
//
// The hash is keyed with a per-table random seed, so names chosen to
// collide (a hostile list) cannot be prepared in advance. Lookups
// allocate nothing. A NameTable is not safe for concurrent writes; once
// filled it may be read concurrently.
type NameTable[T any] struct {
	seed maphash.Seed
	// text holds the names, and whatever else the caller writes around
	// them (WriteString, PutAt): a caller that needs a text per name,
	// such as an explanation that quotes it, stores it once for both.
	text   strings.Builder
	starts []uint32 // name i is text[starts[i]:starts[i]+lens[i]]
	lens   []uint8
	vals   []T
	// The index, in groups of 8 slots as in Go's own maps: a control
	// byte per slot (ctrlEmpty, or 7 bits of the name's hash) packed in
	// one word per group, compared 8 at a time, and the entry number of
	// each slot. A probe reads one word per group, and a name's bytes
	// only when 7 more bits of its hash agree.
	ctrl []uint64
	idx  []uint32
}

const (
	ctrlEmpty = 0x80
	lsb       = 0x0101010101010101
	msb       = 0x8080808080808080
)

// matchTag has the high bit set in each byte of ctrl that equals tag
// (and rarely in one more, which the name comparison rejects).
func matchTag(ctrl uint64, tag uint8) uint64 {
	x := ctrl ^ (lsb * uint64(tag))
	return (x - lsb) &^ x & msb
}

// NewNameTable returns an empty table.
func NewNameTable[T any]() *NameTable[T] {
	return &NameTable[T]{seed: maphash.MakeSeed()}
}

// Len is the number of names.
func (t *NameTable[T]) Len() int {
	if t == nil {
		return 0
	}
	return len(t.vals)
}

// Grow makes room for n more names and textBytes more bytes of text, so
// that a table filled from a list of known size is allocated once.
func (t *NameTable[T]) Grow(n, textBytes int) {
	if n <= 0 {
		return
	}
	t.text.Grow(textBytes)
	if c := len(t.vals) + n; c > cap(t.vals) {
		t.starts = append(make([]uint32, 0, c), t.starts...)
		t.lens = append(make([]uint8, 0, c), t.lens...)
		t.vals = append(make([]T, 0, c), t.vals...)
	}
	t.resize(len(t.vals) + n)
}

func (t *NameTable[T]) key(i int) string {
	s := t.starts[i]
	return t.text.String()[s : s+uint32(t.lens[i])]
}

// resize makes the index hold n names at a load of at most 7/8.
func (t *NameTable[T]) resize(n int) {
	groups := len(t.ctrl)
	if groups == 0 {
		groups = 2
	}
	for n > groups*7 {
		groups *= 2
	}
	if groups == len(t.ctrl) {
		return
	}
	t.ctrl = make([]uint64, groups)
	for g := range t.ctrl {
		t.ctrl[g] = lsb * ctrlEmpty
	}
	t.idx = make([]uint32, groups*8)
	for i := range t.vals {
		t.place(i, maphash.String(t.seed, t.key(i)))
	}
}

// place puts entry i, whose name hashes to h, in the first empty slot of
// its probe sequence (groups g, g+1, g+3, g+6, …, which visits them all).
func (t *NameTable[T]) place(i int, h uint64) {
	mask := uint64(len(t.ctrl) - 1)
	for g, step := (h>>7)&mask, uint64(1); ; g, step = (g+step)&mask, step+1 {
		if e := t.ctrl[g] & msb; e != 0 {
			b := bits.TrailingZeros64(e) >> 3
			t.ctrl[g] = t.ctrl[g]&^(0xff<<(b*8)) | (h&0x7f)<<(b*8)
			t.idx[int(g)*8+b] = uint32(i)
			return
		}
	}
}

// Index returns the entry number of name, or -1.
func (t *NameTable[T]) Index(name string) int {
	if t == nil || len(t.ctrl) == 0 {
		return -1
	}
	return probe(t, name, maphash.String(t.seed, name))
}

// IndexBytes is Index for a name held in a byte slice.
func (t *NameTable[T]) IndexBytes(name []byte) int {
	if t == nil || len(t.ctrl) == 0 {
		return -1
	}
	return probe(t, name, maphash.Bytes(t.seed, name))
}

// probe finds name, whose hash is h, in t's index. It is generic over
// the name's type, rather than converting a []byte name to a string,
// because that conversion allocates for names over 32 bytes; the
// comparison with string(name) does not.
func probe[T any, S string | []byte](t *NameTable[T], name S, h uint64) int {
	text := t.text.String()
	mask := uint64(len(t.ctrl) - 1)
	for g, step := (h>>7)&mask, uint64(1); ; g, step = (g+step)&mask, step+1 {
		c := t.ctrl[g]
		for m := matchTag(c, uint8(h&0x7f)); m != 0; m &= m - 1 {
			i := t.idx[int(g)*8+bits.TrailingZeros64(m)>>3]
			if int(t.lens[i]) == len(name) {
				if s := t.starts[i]; text[s:s+uint32(len(name))] == string(name) {
					return int(i)
				}
			}
		}
		if c&msb != 0 {
			return -1
		}
	}
}

// Get returns the value stored for name.
func (t *NameTable[T]) Get(name string) (v T, ok bool) {
	if i := t.Index(name); i >= 0 {
		return t.vals[i], true
	}
	return v, false
}

// GetBytes is Get for a name held in a byte slice.
func (t *NameTable[T]) GetBytes(name []byte) (v T, ok bool) {
	if i := t.IndexBytes(name); i >= 0 {
		return t.vals[i], true
	}
	return v, false
}

// Put stores v for name, replacing the value of a name already there.
// Names longer than 255 bytes are not stored (they are not hostnames);
// Put reports whether it stored v.
func (t *NameTable[T]) Put(name string, v T) bool {
	if i := t.Index(name); i >= 0 {
		t.vals[i] = v
		return true
	}
	start := t.text.Len()
	t.text.WriteString(name)
	return t.PutAt(start, len(name), v) >= 0
}

// PutBytes is Put for a name held in a byte slice; the table copies it.
func (t *NameTable[T]) PutBytes(name []byte, v T) bool {
	if i := t.IndexBytes(name); i >= 0 {
		t.vals[i] = v
		return true
	}
	start := t.text.Len()
	t.text.Write(name)
	return t.PutAt(start, len(name), v) >= 0
}

// WriteString appends s to the table's text, for PutAt.
func (t *NameTable[T]) WriteString(s string) { t.text.WriteString(s) }

// Write appends b to the table's text, for PutAt.
func (t *NameTable[T]) Write(b []byte) { t.text.Write(b) }

// TextLen is the length of the table's text.
func (t *NameTable[T]) TextLen() int { return t.text.Len() }

// Text is the table's text. What was written stays where it was, so
// slices of an earlier Text stay valid as the table grows.
func (t *NameTable[T]) Text() string { return t.text.String() }

// PutAt adds the name already written at Text()[start:start+n] with
// value v and returns its entry number. The name must not be in the
// table (check with Index first); one longer than 255 bytes, or beyond
// 4 GiB of text, is not added (-1).
func (t *NameTable[T]) PutAt(start, n int, v T) int {
	if n > 255 || start < 0 || start+n > 1<<32-1 || start+n > t.text.Len() {
		return -1
	}
	t.resize(len(t.vals) + 1)
	t.starts = append(t.starts, uint32(start))
	t.lens = append(t.lens, uint8(n))
	t.vals = append(t.vals, v)
	i := len(t.vals) - 1
	t.place(i, maphash.String(t.seed, t.key(i)))
	return i
}

// Value returns a pointer to entry i's value.
func (t *NameTable[T]) Value(i int) *T { return &t.vals[i] }

// Each calls fn for every name and its value, in insertion order.
func (t *NameTable[T]) Each(fn func(name string, v T)) {
	if t == nil {
		return
	}
	for i := range t.vals {
		fn(t.key(i), t.vals[i])
	}
}
