package shaping

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"ips/verdict"
)

// Class ids on every shaped port (major 1, the HTB root's handle):
//
//	1:ffff          root class, the port's line rate (--wan-rate / --lan-rate)
//	1:fffe          default class: everything not shaped, at line rate
//	1:c             shaper class c (c < 0x1000): per "all" shapers, and
//	                hosts in no pool
//	1:1000-1:fffd   (shaper, pool) and (shaper, host) classes, numbered on
//	                first use and kept while they exist
const (
	Major        = 1
	MinorRoot    = 0xffff
	MinorDefault = 0xfffe
	// MaxShaperClass is the largest shaper class that has a class of its
	// own (minor = class).
	MaxShaperClass = 0x0fff
	minorFirst     = 0x1000
	minorLast      = 0xfffd
	// SmallUnshaped: with FIFO leaves (no fq_codel), a shaped flow's
	// packets of at most this many bytes on the wire (pure TCP ACKs with
	// options, IPv4 or IPv6, with their Ethernet header) go to the default
	// class, so that a download's ACKs do not wait behind the upload data
	// of the same pool (and the other way round).
	SmallUnshaped = 128
)

// ClassID is the tc class id major:minor as skb priority.
func ClassID(minor uint16) uint32 { return Major<<16 | uint32(minor) }

// classKind tells the classes of a port apart.
type classKind uint8

const (
	kindShaper classKind = iota // the shaper's own class
	kindPool                    // (shaper, pool)
	kindHost                    // (shaper, host)
)

// classKey names a class independently of its minor, so that the class
// survives reloads that keep its shaper and pool.
type classKey struct {
	kind   classKind
	shaper string // shaper name
	num    uint16 // kindShaper: the class number (its minor)
	pool   string // pool name (kindPool, kindHost)
	host   netip.Addr
}

func (k classKey) String() string {
	switch k.kind {
	case kindPool:
		return fmt.Sprintf("shaper %s pool %s", k.shaper, k.pool)
	case kindHost:
		return fmt.Sprintf("shaper %s host %s (pool %s)", k.shaper, k.host, k.pool)
	}
	return "shaper " + k.shaper
}

// params are what a class is built with; two classes with equal params
// need no change.
type params struct {
	rate, ceil uint64 // bits per second
}

// classSpec is one class of the desired state.
type classSpec struct {
	key   classKey
	class uint16 // the shaper's class (its mark)
	p     params
}

// desired lists the classes a plan needs up front: one per shaper. The
// (shaper, pool) and (shaper, host) classes come and go with traffic.
func desired(plan verdict.ShapePlan) ([]classSpec, error) {
	var out []classSpec
	seen := map[uint16]bool{}
	for _, s := range plan.Shapers {
		if s.Class < 1 || s.Class > MaxShaperClass {
			return nil, fmt.Errorf("shaper %s: class %d: shaping supports classes 1–%d", s.Name, s.Class, MaxShaperClass)
		}
		if seen[s.Class] {
			return nil, fmt.Errorf("shaper %s: class %d is used twice", s.Name, s.Class)
		}
		seen[s.Class] = true
		if s.Rate == 0 {
			return nil, fmt.Errorf("shaper %s: rate 0", s.Name)
		}
		p := params{rate: s.Rate, ceil: max(s.Ceil, s.Rate)}
		out = append(out, classSpec{key: classKey{kind: kindShaper, shaper: s.Name, num: s.Class}, class: s.Class, p: p})
	}
	return out, nil
}

// minors hands out class minors from minorFirst to minorLast.
type minors struct {
	used map[uint16]bool
	next uint16
}

func newMinors() *minors { return &minors{used: map[uint16]bool{}, next: minorFirst} }

func (m *minors) take() (uint16, bool) {
	n := minorLast - minorFirst + 1
	for i := 0; i < n; i++ {
		c := m.next
		m.next++
		if m.next > minorLast {
			m.next = minorFirst
		}
		if !m.used[c] {
			m.used[c] = true
			return c, true
		}
	}
	return 0, false
}

func (m *minors) free(c uint16) { delete(m.used, c) }

// poolRanges flattens the pools' prefixes into disjoint address ranges,
// each carrying the pool of its longest matching prefix, as the policy
// decides a host's pool. keys gives each pool name its map key.
func poolRanges(pools []verdict.PoolSpec, keys map[string]uint32) []verdict.PoolRange {
	type pe struct {
		p    netip.Prefix
		pool uint32
	}
	var ps []pe
	seen := map[netip.Prefix]bool{}
	for _, pl := range pools {
		for _, p := range pl.Prefixes {
			p = p.Masked()
			if !p.IsValid() || seen[p] {
				continue // a prefix in two pools is a policy error; the first wins
			}
			seen[p] = true
			ps = append(ps, pe{p, keys[pl.Name]})
		}
	}
	// Prefixes either nest or are disjoint. Sorted by start, then by
	// length (the container first), a walk with a stack of open prefixes
	// emits each run of addresses with the innermost prefix covering it.
	slices.SortFunc(ps, func(a, b pe) int {
		if a.p.Addr().Is4() != b.p.Addr().Is4() {
			if a.p.Addr().Is4() {
				return -1
			}
			return 1
		}
		if c := a.p.Addr().Compare(b.p.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.p.Bits(), b.p.Bits())
	})
	var out []verdict.PoolRange
	emit := func(from, to netip.Addr, pool uint32) {
		if !from.IsValid() || from.Compare(to) > 0 {
			return
		}
		if n := len(out); n > 0 && out[n-1].Pool == pool && out[n-1].To.Next() == from {
			out[n-1].To = to
			return
		}
		out = append(out, verdict.PoolRange{From: from, To: to, Pool: pool})
	}
	type open struct {
		last netip.Addr
		pool uint32
	}
	var stack []open
	var cur netip.Addr // next address not yet emitted inside the stack's top
	closeTo := func(limit netip.Addr, hasLimit bool) {
		// Close every open prefix that ends before limit.
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if hasLimit && top.last.Compare(limit) >= 0 {
				// limit lies inside top: emit up to just before it.
				emit(cur, limit.Prev(), top.pool)
				return
			}
			emit(cur, top.last, top.pool)
			stack = stack[:len(stack)-1]
			cur = top.last.Next()
		}
	}
	fam4 := true
	for i, e := range ps {
		start := e.p.Addr()
		if i > 0 && start.Is4() != fam4 {
			closeTo(netip.Addr{}, false)
		}
		fam4 = start.Is4()
		closeTo(start, true)
		stack = append(stack, open{last: lastAddr(e.p), pool: e.pool})
		cur = start
	}
	closeTo(netip.Addr{}, false)
	return out
}

// lastAddr is the last address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
