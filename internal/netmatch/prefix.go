// Package netmatch holds the immutable lookup structures that both the DPI
// catalog and the policy pools are built on: longest-prefix match over IP
// prefixes and longest-suffix match over domain names. Lookups allocate
// nothing; building does the work once.
package netmatch

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
)

// u128 is an IPv6 address (or an IPv4 address in the low 32 bits) as a number.
type u128 struct{ hi, lo uint64 }

func (a u128) cmp(b u128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func (a u128) add1() u128 {
	lo := a.lo + 1
	hi := a.hi
	if lo == 0 {
		hi++
	}
	return u128{hi, lo}
}

func (a u128) sub1() u128 {
	lo := a.lo - 1
	hi := a.hi
	if a.lo == 0 {
		hi--
	}
	return u128{hi, lo}
}

func addrNum(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// prefixRange returns the first and last address of p as numbers.
func prefixRange(p netip.Prefix) (u128, u128) {
	p = p.Masked()
	start := addrNum(p.Addr())
	bits := p.Addr().BitLen() - p.Bits() // host bits
	var mask u128
	switch {
	case bits >= 128:
		mask = u128{^uint64(0), ^uint64(0)}
	case bits >= 64:
		mask = u128{(1 << (bits - 64)) - 1, ^uint64(0)}
	default:
		mask = u128{0, (1 << bits) - 1}
	}
	return start, u128{start.hi | mask.hi, start.lo | mask.lo}
}

type span[T any] struct {
	start, end u128
	val        T
}

// PrefixTable maps IP addresses to values by longest-prefix match. It is
// immutable once built and safe for concurrent lookups.
type PrefixTable[T any] struct {
	v4, v6 []span[T]
	n      int
}

// PrefixEntry is one prefix and its value, the input to NewPrefixTable.
type PrefixEntry[T any] struct {
	Prefix netip.Prefix
	Value  T
}

// NewPrefixTable builds a table. For the same prefix given twice, the later
// entry wins; the caller decides whether that is an error.
func NewPrefixTable[T any](entries []PrefixEntry[T]) *PrefixTable[T] {
	t := &PrefixTable[T]{n: len(entries)}
	var e4, e6 []PrefixEntry[T]
	for _, e := range entries {
		if !e.Prefix.IsValid() {
			continue
		}
		p := e.Prefix.Masked()
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		e.Prefix = p
		if p.Addr().Is4() {
			e4 = append(e4, e)
		} else {
			e6 = append(e6, e)
		}
	}
	t.v4 = flatten(e4)
	t.v6 = flatten(e6)
	return t
}

// Len is the number of prefixes the table was built from.
func (t *PrefixTable[T]) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// flatten turns nested prefixes into disjoint address ranges, each carrying
// the value of the longest prefix that covers it.
func flatten[T any](es []PrefixEntry[T]) []span[T] {
	if len(es) == 0 {
		return nil
	}
	type pr struct {
		start, end u128
		bits       int
		order      int
		val        T
	}
	ps := make([]pr, len(es))
	for i, e := range es {
		s, en := prefixRange(e.Prefix)
		ps[i] = pr{s, en, e.Prefix.Bits(), i, e.Value}
	}
	// Outer prefixes before inner ones at the same start; for the same
	// prefix the later entry comes last so it ends up on top of the stack.
	slices.SortStableFunc(ps, func(a, b pr) int {
		if c := a.start.cmp(b.start); c != 0 {
			return c
		}
		if c := cmp.Compare(a.bits, b.bits); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
	var out []span[T]
	emit := func(s, e u128, v T) {
		if s.cmp(e) > 0 {
			return
		}
		out = append(out, span[T]{s, e, v})
	}
	var stack []pr
	var pos u128
	for _, p := range ps {
		for len(stack) > 0 && stack[len(stack)-1].end.cmp(p.start) < 0 {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if pos.cmp(top.start) < 0 {
				pos = top.start
			}
			emit(pos, top.end, top.val)
			pos = top.end.add1()
		}
		if len(stack) > 0 {
			top := stack[len(stack)-1]
			if top.start == p.start && top.bits == p.bits {
				stack[len(stack)-1] = p // same prefix again: later wins
				continue
			}
			if pos.cmp(top.start) < 0 {
				pos = top.start
			}
			if p.start.cmp(u128{}) > 0 {
				emit(pos, p.start.sub1(), top.val)
			}
		}
		pos = p.start
		stack = append(stack, p)
	}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if pos.cmp(top.start) < 0 {
			pos = top.start
		}
		emit(pos, top.end, top.val)
		if top.end == (u128{^uint64(0), ^uint64(0)}) {
			break
		}
		pos = top.end.add1()
	}
	return out
}

// Lookup returns the value of the longest prefix containing a.
func (t *PrefixTable[T]) Lookup(a netip.Addr) (v T, ok bool) {
	if t == nil {
		return v, false
	}
	spans := t.v6
	if a.Is4() || a.Is4In6() {
		a = a.Unmap()
		spans = t.v4
	}
	if len(spans) == 0 {
		return v, false
	}
	n := addrNum(a)
	// Last span whose start ≤ n.
	lo, hi := 0, len(spans)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if spans[m].start.cmp(n) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return v, false
	}
	s := &spans[lo-1]
	if n.cmp(s.end) <= 0 {
		return s.val, true
	}
	return v, false
}
