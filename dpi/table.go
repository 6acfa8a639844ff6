package dpi

import (
	"hash/maphash"
	"unsafe"
)

// table is a bounded flow table: flows live in fixed-size chunks (so
// pointers stay valid as the table grows and nothing is allocated once a
// chunk exists), an open-addressing index maps keys to slots, and two
// lists in last-seen order — flows still being inspected, and decided
// flows — find idle flows to expire or evict.
//
// Hostile keys: the index hashes keys with hash/maphash under a seed drawn
// per table, so a sender cannot choose addresses and ports that collide
// (the hash of a key is unknown outside the process and differs per
// queue and per run). Whatever the keys, a key sits at most maxProbe
// index positions from its home position: lookups never probe further,
// and an insert that finds no free position within maxProbe evicts a flow
// of that window first (the engine picks which, see victimIn), so no
// packet ever walks a long probe chain.
type table struct {
	chunks [][]Flow
	free   []uint32 // recycled slot numbers
	used   uint32   // slots handed out so far (high-water mark)
	max    uint32
	// index holds tag<<slotBits | slot+1 per position (0 = empty): the tag
	// is the top bits of the key's hash, so a probe rarely touches a flow
	// that is not the one looked for.
	index []uint32
	mask  uint64
	count int
	seed  maphash.Seed
	// lists[listOpen]: flows still inspecting (or partial);
	// lists[listFinal]: decided flows. Each is oldest first (slot+1
	// links, 0 = none).
	lists [2]flowList
	// ProbeEvictions counts flows evicted because a key's probe window
	// was full (expected to stay 0 but for astronomically unlucky keys).
	probeEvictions uint64
}

type flowList struct{ head, tail uint32 }

const (
	listOpen  = 0
	listFinal = 1
)

const (
	chunkFlows = 1024
	// maxProbe bounds the index positions between a key's home and where
	// it is stored. The index has at least twice as many positions as
	// flows (load ≤ ½), where linear probing passes 64 positions about
	// once in 250,000 inserts with a uniform hash.
	maxProbe = 64
	slotBits = 24
	slotMask = 1<<slotBits - 1
	// MaxTableFlows is the most flows one table (one engine) holds: slot
	// numbers share the index word with an 8-bit hash tag.
	MaxTableFlows = slotMask - 1
)

// The key is hashed as its memory: it must have no padding bytes.
var _ [40]byte = [unsafe.Sizeof(FlowKey{})]byte{}

func newTable(maxFlows int) *table {
	maxFlows = max(16, min(maxFlows, MaxTableFlows))
	n := 64
	for n < maxFlows*2 {
		n <<= 1
	}
	return &table{
		max:   uint32(maxFlows),
		index: make([]uint32, n),
		mask:  uint64(n - 1),
		free:  make([]uint32, 0, 1024),
		seed:  maphash.MakeSeed(),
	}
}

// hash is the keyed hash of k.
func (t *table) hash(k *FlowKey) uint64 {
	return maphash.Bytes(t.seed, unsafe.Slice((*byte)(unsafe.Pointer(k)), unsafe.Sizeof(*k)))
}

func tagOf(h uint64) uint32 { return uint32(h>>(64-(32-slotBits))) << slotBits }

func (t *table) at(slot uint32) *Flow {
	return &t.chunks[slot/chunkFlows][slot%chunkFlows]
}

// lookup finds the flow with key k (h = t.hash(k)).
func (t *table) lookup(k *FlowKey, h uint64) *Flow {
	tag := tagOf(h)
	i := h & t.mask
	for range maxProbe {
		s := t.index[i]
		if s == 0 {
			return nil
		}
		if s&^slotMask == tag {
			if f := t.at(s&slotMask - 1); f.key == *k {
				return f
			}
		}
		i = (i + 1) & t.mask
	}
	return nil
}

// full reports whether a new flow needs an eviction first.
func (t *table) full() bool { return t.count >= int(t.max) }

// insert adds a flow for k; the caller checked full(). It returns nil
// when no index position within maxProbe of k's home is free: the caller
// evicts one of victimIn(h)'s flows and tries again.
func (t *table) insert(k *FlowKey, h uint64) *Flow {
	i := h & t.mask
	for n := 0; t.index[i] != 0; n++ {
		if n == maxProbe-1 {
			return nil
		}
		i = (i + 1) & t.mask
	}
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
	t.index[i] = tagOf(h) | (slot + 1)
	t.count++
	t.pushBack(f)
	return f
}

// victimIn is the flow to evict so that a key hashing to h finds room
// within its probe window: the window's flow that evict would prefer
// (undecided and idle, then decided, then the least recently seen).
func (t *table) victimIn(h uint64, now, idle int64) *Flow {
	var best *Flow
	bestRank := 3
	i := h & t.mask
	for range maxProbe {
		s := t.index[i]
		if s == 0 {
			break
		}
		f := t.at(s&slotMask - 1)
		r := evictRank(f, now, idle)
		if best == nil || r < bestRank || r == bestRank && f.LastSeen < best.LastSeen {
			best, bestRank = f, r
		}
		i = (i + 1) & t.mask
	}
	if best != nil {
		t.probeEvictions++
	}
	return best
}

// evictRank orders eviction candidates: 0 undecided and idle, 1 decided,
// 2 undecided and active.
func evictRank(f *Flow, now, idle int64) int {
	switch {
	case f.flags&flowListFinal != 0:
		return 1
	case now-f.LastSeen >= idle:
		return 0
	}
	return 2
}

// victim is the flow to evict for a new one when the table is full:
//
//  1. the least recently seen undecided flow, if it has been idle for at
//     least idle (what a flood of new flows leaves behind: one packet,
//     never another);
//  2. else the least recently seen decided flow: the kernel keeps
//     enforcing its verdict from the conntrack mark, only the daemon's
//     record of it (events, re-judging on reload) is lost;
//  3. else the least recently seen undecided flow: every flow is
//     undecided and active, the table is too small for the load.
func (t *table) victim(now, idle int64) *Flow {
	o, d := t.head(listOpen), t.head(listFinal)
	switch {
	case o != nil && now-o.LastSeen >= idle:
		return o
	case d != nil:
		return d
	}
	return o
}

// remove deletes f from the index (backward-shift deletion keeps probe
// chains intact without tombstones, and only ever moves a key closer to
// its home, so the maxProbe bound holds) and recycles its slot.
func (t *table) remove(f *Flow) {
	h := t.hash(&f.key)
	i := h & t.mask
	for n := 0; t.index[i]&slotMask != f.idx+1; n++ {
		if t.index[i] == 0 || n == maxProbe {
			return // not indexed
		}
		i = (i + 1) & t.mask
	}
	t.index[i] = 0
	for j := (i + 1) & t.mask; t.index[j] != 0; j = (j + 1) & t.mask {
		home := t.hash(&t.at(t.index[j]&slotMask-1).key) & t.mask
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

func listOf(f *Flow) int {
	if f.flags&flowListFinal != 0 {
		return listFinal
	}
	return listOpen
}

func (t *table) pushBack(f *Flow) {
	l := &t.lists[listOf(f)]
	n := f.idx + 1
	f.prev, f.next = l.tail, 0
	if l.tail != 0 {
		t.at(l.tail - 1).next = n
	} else {
		l.head = n
	}
	l.tail = n
}

func (t *table) unlink(f *Flow) {
	l := &t.lists[listOf(f)]
	if f.prev != 0 {
		t.at(f.prev - 1).next = f.next
	} else if l.head == f.idx+1 {
		l.head = f.next
	}
	if f.next != 0 {
		t.at(f.next - 1).prev = f.prev
	} else if l.tail == f.idx+1 {
		l.tail = f.prev
	}
	f.prev, f.next = 0, 0
}

// touch moves f to the back of its list (most recently seen).
func (t *table) touch(f *Flow) {
	if t.lists[listOf(f)].tail == f.idx+1 {
		return
	}
	t.unlink(f)
	t.pushBack(f)
}

// settle moves f to the list its state belongs to (decided or not),
// as the most recently seen flow there.
func (t *table) settle(f *Flow) {
	if (f.flags&flowListFinal != 0) == f.Result.State.Final() {
		return
	}
	t.unlink(f)
	f.flags ^= flowListFinal
	t.pushBack(f)
}

func (t *table) head(l int) *Flow {
	if n := t.lists[l].head; n != 0 {
		return t.at(n - 1)
	}
	return nil
}

// oldest is the least recently seen flow of either list, or nil.
func (t *table) oldest() *Flow {
	o, d := t.head(listOpen), t.head(listFinal)
	if o == nil || d != nil && d.LastSeen < o.LastSeen {
		return d
	}
	return o
}

// each calls fn for every live flow, least recently seen first (the two
// lists merged); fn must not remove.
func (t *table) each(fn func(*Flow)) {
	a, b := t.lists[listOpen].head, t.lists[listFinal].head
	for a != 0 || b != 0 {
		var f *Flow
		switch {
		case b == 0:
			f = t.at(a - 1)
			a = f.next
		case a == 0:
			f = t.at(b - 1)
			b = f.next
		default:
			fa, fb := t.at(a-1), t.at(b-1)
			if fb.LastSeen < fa.LastSeen {
				f, b = fb, fb.next
			} else {
				f, a = fa, fa.next
			}
		}
		fn(f)
	}
}
