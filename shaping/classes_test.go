package shaping

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"ips/verdict"
)

// The flattened ranges give every address the pool of its longest
// matching prefix, as the policy decides a host's pool.
func TestPoolRangesLongestPrefix(t *testing.T) {
	pools := []verdict.PoolSpec{
		{Name: "all", Prefixes: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}},
		{Name: "lan", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		{Name: "guests", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00::/64")}},
		{Name: "host", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/32"), netip.MustParsePrefix("10.255.255.255/32")}},
		{Name: "other", Prefixes: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/24")}},
	}
	keys := map[string]uint32{"all": 1, "lan": 2, "guests": 3, "host": 4, "other": 5}
	rs := poolRanges(pools, keys)
	lookup := func(a netip.Addr) (uint32, int) {
		var got uint32
		n := 0
		for _, r := range rs {
			if r.From.Is4() == a.Is4() && r.From.Compare(a) <= 0 && a.Compare(r.To) <= 0 {
				got = r.Pool
				n++
			}
		}
		return got, n
	}
	for addr, want := range map[string]uint32{
		"0.0.0.0": 1, "9.255.255.255": 1, "10.0.0.0": 2, "10.1.0.0": 3, "10.1.2.2": 3, "10.1.2.3": 4, "10.1.2.4": 3,
		"10.1.255.255": 3, "10.2.0.0": 2, "10.255.255.254": 2, "10.255.255.255": 4, "11.0.0.0": 1,
		"192.168.0.77": 5, "192.168.1.0": 1, "255.255.255.255": 1, "fd00::1": 3, "fd00:0:0:1::": 1, "::": 1,
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff": 1,
	} {
		got, n := lookup(netip.MustParseAddr(addr))
		if n != 1 || got != want {
			t.Errorf("%s: pool %d in %d ranges, want pool %d in one", addr, got, n, want)
		}
	}
	// Ranges are disjoint and sorted within a family.
	for i := 1; i < len(rs); i++ {
		if rs[i].From.Is4() == rs[i-1].From.Is4() && rs[i].From.Compare(rs[i-1].To) <= 0 {
			t.Errorf("ranges %v and %v overlap or are out of order", rs[i-1], rs[i])
		}
	}
}

// Against a brute-force longest-prefix match over random nested prefixes.
func TestPoolRangesRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		var pools []verdict.PoolSpec
		keys := map[string]uint32{}
		var all []netip.Prefix
		owner := map[netip.Prefix]uint32{}
		for i := 0; i < 20; i++ {
			a := netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(4)), byte(r.IntN(256))})
			p := netip.PrefixFrom(a, 8+r.IntN(25)).Masked()
			if _, dup := owner[p]; dup {
				continue
			}
			name := fmt.Sprint("p", i)
			keys[name] = uint32(i + 1)
			owner[p] = uint32(i + 1)
			all = append(all, p)
			pools = append(pools, verdict.PoolSpec{Name: name, Prefixes: []netip.Prefix{p}})
		}
		rs := poolRanges(pools, keys)
		for j := 0; j < 500; j++ {
			a := netip.AddrFrom4([4]byte{10, byte(r.IntN(5)), byte(r.IntN(5)), byte(r.IntN(256))})
			var want uint32
			bits := -1
			for _, p := range all {
				if p.Contains(a) && p.Bits() > bits {
					want, bits = owner[p], p.Bits()
				}
			}
			var got uint32
			for _, x := range rs {
				if x.From.Compare(a) <= 0 && a.Compare(x.To) <= 0 {
					got = x.Pool
				}
			}
			if got != want {
				t.Fatalf("round %d: %s: pool %d, want %d (prefixes %v, ranges %v)", round, a, got, want, all, rs)
			}
		}
	}
}

func TestHTBParams(t *testing.T) {
	h := htbClass(4e6, 8e6)
	if h.Parms.Rate.Rate != 500000 || h.Parms.Ceil.Rate != 1000000 || h.Rate64 != nil || h.Ceil64 != nil {
		t.Errorf("4/8 Mbit/s: %+v", h.Parms)
	}
	// 10 ms at 4 Mbit/s is 5,000 bytes, i.e. 10 ms = 156,250 ticks of 64 ns.
	if h.Parms.Buffer != 156250 || h.Parms.Cbuffer != 156250 {
		t.Errorf("buffer %d cbuffer %d, want 156250", h.Parms.Buffer, h.Parms.Cbuffer)
	}
	if h.Parms.Quantum != 50000 {
		t.Errorf("quantum %d", h.Parms.Quantum)
	}
	// A low rate: burst at least two frames, quantum at least two frames.
	lo := htbClass(64e3, 64e3)
	if b := burstBytes(64e3); b != 2*mtu {
		t.Errorf("burst at 64 kbit/s %d", b)
	}
	if lo.Parms.Quantum != minQuantum {
		t.Errorf("quantum at 64 kbit/s %d", lo.Parms.Quantum)
	}
	// 100 Gbit/s needs the 64-bit rate attributes.
	hi := htbClass(DefaultLineRate, DefaultLineRate)
	if hi.Rate64 == nil || *hi.Rate64 != 12_500_000_000 || hi.Ceil64 == nil || hi.Parms.Rate.Rate != 0xffffffff {
		t.Errorf("100 Gbit/s: %+v rate64 %v", hi.Parms, hi.Rate64)
	}
	if hi.Parms.Quantum != maxQuantum {
		t.Errorf("quantum at line rate %d", hi.Parms.Quantum)
	}
}

func TestDesired(t *testing.T) {
	plan := verdict.ShapePlan{Shapers: []verdict.ShaperSpec{{Name: "a", Class: 1, Rate: 1e6}, {Name: "b", Class: 2, Rate: 2e6, Ceil: 3e6, Per: verdict.PerAll}}}
	cs, err := desired(plan)
	if err != nil || len(cs) != 2 || cs[0].p != (params{1e6, 1e6}) || cs[1].p != (params{2e6, 3e6}) {
		t.Errorf("desired: %+v %v", cs, err)
	}
	for _, bad := range []verdict.ShaperSpec{{Name: "x", Class: 0, Rate: 1}, {Name: "x", Class: MaxShaperClass + 1, Rate: 1}, {Name: "x", Class: 3}} {
		if _, err := desired(verdict.ShapePlan{Shapers: []verdict.ShaperSpec{bad}}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestMinors(t *testing.T) {
	m := newMinors()
	a, _ := m.take()
	b, _ := m.take()
	if a != minorFirst || b != minorFirst+1 {
		t.Errorf("first minors %#x %#x", a, b)
	}
	m.free(a)
	n := 0
	for {
		if _, ok := m.take(); !ok {
			break
		}
		n++
	}
	if n != minorLast-minorFirst { // all but b, a reused
		t.Errorf("took %d more minors, want %d", n, minorLast-minorFirst)
	}
}
