package dpi

// table is a bounded flow table: flows live in fixed-size chunks (so
// pointers stay valid as the table grows and nothing is allocated once a
// chunk exists), an open-addressing index maps keys to slots, and a list in
// last-seen order finds idle flows to expire or evict.
type table struct {
	chunks [][]Flow
	free   []uint32 // recycled slot numbers
	used   uint32   // slots handed out so far (high-water mark)
	max    uint32
	index  []uint32 // slot+1, 0 = empty
	mask   uint64
	count  int
	// idle list, oldest first (slot+1 links, 0 = none)
	head, tail uint32
}

const chunkFlows = 1024

func newTable(maxFlows int) *table {
	if maxFlows < 16 {
		maxFlows = 16
	}
	n := 64
	for n < maxFlows*2 {
		n <<= 1
	}
	return &table{
		max:   uint32(maxFlows),
		index: make([]uint32, n),
		mask:  uint64(n - 1),
		free:  make([]uint32, 0, 1024),
	}
}

func (t *table) at(slot uint32) *Flow {
	return &t.chunks[slot/chunkFlows][slot%chunkFlows]
}

// lookup finds the flow with key k.
func (t *table) lookup(k *FlowKey, h uint64) *Flow {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.index[i]
		if s == 0 {
			return nil
		}
		f := t.at(s - 1)
		if f.key == *k {
			return f
		}
	}
}

// full reports whether a new flow needs an eviction first.
func (t *table) full() bool { return t.count >= int(t.max) }

// insert adds a flow for k; the caller checked full().
func (t *table) insert(k *FlowKey, h uint64) *Flow {
	var slot uint32
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		slot = t.used
		t.used++
		if int(slot/chunkFlows) >= len(t.chunks) {
			t.chunks = append(t.chunks, make([]Flow, chunkFlows))
		}
	}
	f := t.at(slot)
	*f = Flow{key: *k, idx: slot}
	i := h & t.mask
	for t.index[i] != 0 {
		i = (i + 1) & t.mask
	}
	t.index[i] = slot + 1
	t.count++
	t.pushBack(f)
	return f
}

// remove deletes f from the index (backward-shift deletion keeps probe
// chains intact without tombstones) and recycles its slot.
func (t *table) remove(f *Flow) {
	h := f.key.hash()
	i := h & t.mask
	for t.index[i] != f.idx+1 {
		if t.index[i] == 0 {
			return // not indexed
		}
		i = (i + 1) & t.mask
	}
	t.index[i] = 0
	for j := (i + 1) & t.mask; t.index[j] != 0; j = (j + 1) & t.mask {
		home := t.at(t.index[j]-1).key.hash() & t.mask
		// Move j back to i if its home is not in (i, j] cyclically.
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.index[i] = t.index[j]
			t.index[j] = 0
			i = j
		}
	}
	t.unlink(f)
	t.count--
	t.free = append(t.free, f.idx)
}

func (t *table) pushBack(f *Flow) {
	n := f.idx + 1
	f.prev, f.next = t.tail, 0
	if t.tail != 0 {
		t.at(t.tail - 1).next = n
	} else {
		t.head = n
	}
	t.tail = n
}

func (t *table) unlink(f *Flow) {
	if f.prev != 0 {
		t.at(f.prev - 1).next = f.next
	} else if t.head == f.idx+1 {
		t.head = f.next
	}
	if f.next != 0 {
		t.at(f.next - 1).prev = f.prev
	} else if t.tail == f.idx+1 {
		t.tail = f.prev
	}
	f.prev, f.next = 0, 0
}

// touch moves f to the back of the idle list (most recently seen).
func (t *table) touch(f *Flow) {
	if t.tail == f.idx+1 {
		return
	}
	t.unlink(f)
	t.pushBack(f)
}

// oldest is the least recently seen flow, or nil.
func (t *table) oldest() *Flow {
	if t.head == 0 {
		return nil
	}
	return t.at(t.head - 1)
}

// each calls fn for every live flow, oldest first; fn must not remove.
func (t *table) each(fn func(*Flow)) {
	for n := t.head; n != 0; {
		f := t.at(n - 1)
		n = f.next
		fn(f)
	}
}
