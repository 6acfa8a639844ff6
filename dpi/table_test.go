package dpi

import (
	"net/netip"
	"testing"
)

// Each table draws its own hash seed: the same keys land elsewhere in
// another table (another queue, another run), so nobody outside can aim
// keys at one index position.
func TestTableHashIsKeyed(t *testing.T) {
	a, b := newTable(1000), newTable(1000)
	same := 0
	for i := range 64 {
		var k FlowKey
		k.loPort, k.hiPort, k.proto = uint16(i), 53, IPProtoUDP
		if a.hash(&k) == b.hash(&k) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d of 64 keys hash alike under two seeds", same)
	}
}

// collidingKeys finds n keys whose home index position is the same in
// tb (what an attacker who knew the seed could send).
func collidingKeys(tb *table, n int) []FlowKey {
	var out []FlowKey
	var home uint64
	for i := 0; len(out) < n; i++ {
		// 10.0.x.y:port → 10.200.0.2:9999 as makeKey builds it (IPv4
		// mapped, the lower endpoint first).
		var k FlowKey
		k.proto = IPProtoUDP
		k.loAddr = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).As16()
		k.hiAddr = netip.AddrFrom4([4]byte{10, 200, 0, 2}).As16()
		k.loPort, k.hiPort = uint16(1024+i>>16), 9999
		h := tb.hash(&k) & tb.mask
		if len(out) == 0 {
			home = h
		}
		if h == home {
			out = append(out, k)
		}
	}
	return out
}

// However the keys collide, no key is stored more than maxProbe positions
// from its home: the insert that finds the window full refuses, the
// window's best eviction candidate makes room, and every key stays found.
func TestTableProbeBound(t *testing.T) {
	tb := newTable(1000)
	keys := collidingKeys(tb, maxProbe+1)
	for i := range maxProbe {
		if tb.insert(&keys[i], tb.hash(&keys[i])) == nil {
			t.Fatalf("insert %d refused with the window not full", i)
		}
	}
	last := &keys[maxProbe]
	h := tb.hash(last)
	if tb.insert(last, h) != nil {
		t.Fatal("a key was stored beyond maxProbe from its home")
	}
	v := tb.victimIn(h, 0, 1)
	if v == nil {
		t.Fatal("no eviction candidate in a full window")
	}
	gone := v.key
	tb.remove(v)
	if tb.insert(last, h) == nil {
		t.Fatal("no room after evicting from the window")
	}
	for i := range keys {
		f := tb.lookup(&keys[i], tb.hash(&keys[i]))
		if (f == nil) != (keys[i] == gone) {
			t.Errorf("key %d: found %v", i, f != nil)
		}
	}
}

// Through the engine: a key whose window is full evicts one flow of the
// window and is tracked; the table stays consistent.
func TestEngineProbeWindowFull(t *testing.T) {
	var evicted int
	e := NewEngine(Config{MaxFlows: 1000, OnEnd: func(_ *Flow, why EndReason) {
		if why == EndEvicted {
			evicted++
		}
	}})
	keys := collidingKeys(e.t, maxProbe+1)
	var p Packet
	var buf []byte
	for i := range keys {
		k := &keys[i]
		src := netip.AddrPortFrom(addrOf(&k.loAddr, false), k.loPort)
		buf = buildIP(buf[:0], IPProtoUDP, src, netip.AddrPortFrom(addrOf(&k.hiAddr, false), k.hiPort), 0, 0, 0, []byte{0xee, 1, 2, 3})
		if err := p.DecodeIP(buf); err != nil {
			t.Fatal(err)
		}
		if got, _ := makeKey(&p); got != *k {
			t.Fatalf("packet %d does not carry its key", i)
		}
		if f, _ := e.Process(&p, int64(i)*1e6); f == nil || f.key != *k {
			t.Fatalf("packet %d: no flow", i)
		}
	}
	st := e.Stats()
	if st.ProbeEvictions != 1 || st.Evicted != 1 || evicted != 1 || st.Active != maxProbe {
		t.Errorf("stats %+v, %d evicted", st, evicted)
	}
}

// A full table evicts the flows a flood leaves behind (undecided, idle)
// before decided ones, and decided ones before undecided flows still
// active.
func TestEvictionPrefersIdleUndecided(t *testing.T) {
	var ended []string
	e := NewEngine(Config{MaxFlows: 16, OnEnd: func(f *Flow, why EndReason) {
		if why == EndEvicted {
			kind := "undecided"
			if f.Result.State.Final() && f.Result.Master == ProtoICMP {
				kind = "decided"
			}
			ended = append(ended, kind)
		}
	}})
	var p Packet
	var buf []byte
	icmp := []byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 0, 192, 0, 2, 1, 8, 0, 0, 0, 0, 1, 0, 1}
	udp := func(port uint16, now int64) {
		buf = buildIP(buf[:0], IPProtoUDP, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port),
			netip.MustParseAddrPort("10.0.0.2:9999"), 0, 0, 0, []byte{0xee, 1, 2, 3})
		if err := p.DecodeIP(buf); err != nil {
			t.Fatal(err)
		}
		e.Process(&p, now)
	}
	// t=0: 8 decided flows (ICMP is classified on its first packet), the
	// oldest in the table; then 8 undecided UDP flows.
	for i := range 8 {
		icmp[15] = byte(i + 1)
		if err := p.DecodeIP(icmp); err != nil {
			t.Fatal(err)
		}
		e.Process(&p, int64(i))
	}
	for i := range 8 {
		udp(uint16(20000+i), 1e6+int64(i))
	}
	// 2 s later the undecided flows are idle: a new flow evicts one of
	// them, not a decided flow.
	udp(30000, 2e9)
	// The surviving undecided flows are active again; new flows now evict
	// decided ones.
	for i := 1; i < 8; i++ {
		udp(uint16(20000+i), 2e9+int64(i))
	}
	udp(30001, 2.1e9)
	udp(30002, 2.1e9+1)
	want := []string{"undecided", "decided", "decided"}
	if len(ended) != len(want) {
		t.Fatalf("evicted %v, want %v", ended, want)
	}
	for i := range want {
		if ended[i] != want[i] {
			t.Errorf("evicted %v, want %v", ended, want)
			break
		}
	}
	if n := e.Stats().Active; n != 16 {
		t.Errorf("%d flows in the table, want 16", n)
	}
}

// The interner is bounded by bytes as well as entries: distinct long
// strings (made-up user agents) start it over before it holds more than
// internBytes.
func TestInternerBoundedByBytes(t *testing.T) {
	in := newInterner(1 << 16)
	b := make([]byte, 4096)
	for i := range 10_000 { // 40 MiB of distinct strings offered
		b[0], b[1] = byte(i), byte(i>>8)
		in.bytes(b)
		if in.size > internBytes {
			t.Fatalf("after %d strings the interner holds %d bytes, bound %d", i+1, in.size, internBytes)
		}
	}
	if len(in.m) == 0 || len(in.m) > internBytes/4096 {
		t.Errorf("%d strings held", len(in.m))
	}
}
