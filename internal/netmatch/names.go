package netmatch

import (
	"hash/maphash"
	"strings"
)

// NameTable maps names (byte strings of at most 255 bytes, such as
// hostnames) to values, compactly enough for blocklists of millions of
// names: the names are stored back to back in one byte slice, found
// through an open-addressing index of 32-bit entry numbers, and the
// values sit in one slice. A map[string]T costs a string header, its own
// allocation for the bytes and the map's bucket overhead per entry; this
// costs the name's bytes plus about 10 bytes and the value.
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
	slots  []uint32 // 0: empty; else entry number + 1
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

// resize makes the index hold n names at a load of at most 3/4.
func (t *NameTable[T]) resize(n int) {
	size := len(t.slots)
	if size == 0 {
		size = 16
	}
	for n > size/4*3 {
		size *= 2
	}
	if size == len(t.slots) {
		return
	}
	t.slots = make([]uint32, size)
	mask := uint64(size - 1)
	for i := range t.vals {
		for j := maphash.String(t.seed, t.key(i)) & mask; ; j = (j + 1) & mask {
			if t.slots[j] == 0 {
				t.slots[j] = uint32(i + 1)
				break
			}
		}
	}
}

// Index returns the entry number of name, or -1.
func (t *NameTable[T]) Index(name string) int {
	if t == nil || len(t.slots) == 0 {
		return -1
	}
	mask := uint64(len(t.slots) - 1)
	for j := maphash.String(t.seed, name) & mask; ; j = (j + 1) & mask {
		e := t.slots[j]
		if e == 0 {
			return -1
		}
		if t.key(int(e-1)) == name {
			return int(e - 1)
		}
	}
}

// IndexBytes is Index for a name held in a byte slice.
func (t *NameTable[T]) IndexBytes(name []byte) int {
	if t == nil || len(t.slots) == 0 {
		return -1
	}
	mask := uint64(len(t.slots) - 1)
	for j := maphash.Bytes(t.seed, name) & mask; ; j = (j + 1) & mask {
		e := t.slots[j]
		if e == 0 {
			return -1
		}
		if t.key(int(e-1)) == string(name) {
			return int(e - 1)
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

// Text is the table's text; a name's bytes stay where they were written,
// so slices of it stay valid as the table grows.
func (t *NameTable[T]) Text() string { return t.text.String() }

// PutAt adds the name already written at Text()[start:start+n] with
// value v and returns its entry number. The name must not be in the
// table (check with Index first); one longer than 255 bytes, or beyond
// 4 GiB of text, is not added (-1).
func (t *NameTable[T]) PutAt(start, n int, v T) int {
	if n > 255 || start+n > 1<<32-1 || start < 0 || start+n > t.text.Len() {
		return -1
	}
	t.resize(len(t.vals) + 1)
	t.starts = append(t.starts, uint32(start))
	t.lens = append(t.lens, uint8(n))
	t.vals = append(t.vals, v)
	i := len(t.vals) - 1
	mask := uint64(len(t.slots) - 1)
	for j := maphash.String(t.seed, t.key(i)) & mask; ; j = (j + 1) & mask {
		if t.slots[j] == 0 {
			t.slots[j] = uint32(i + 1)
			return i
		}
	}
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
