// Package pools holds named, immutable match sets for the policy engine:
// pools of LAN hosts by address, prefix and MAC (longest prefix wins),
// hostname pattern sets, and GeoIP country/continent/ASN lookup. Building
// does the work once; lookups allocate nothing and are safe for
// concurrent use.
package pools

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"ips/internal/netmatch"
)

// MAC is an Ethernet address.
type MAC [6]byte

func (m MAC) String() string {
	const hexd = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexd[x>>4], hexd[x&15])
	}
	return string(b)
}

// ParseMAC reads a MAC address in any case, with ':' or '-' between the
// six octets ("aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF"), as Cisco's
// "aabb.ccdd.eeff", or as 12 bare hex digits.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	t := strings.TrimSpace(s)
	var digits string
	switch {
	case len(t) == 17 && (t[2] == ':' || t[2] == '-'):
		sep := t[2]
		var b strings.Builder
		for i := 0; i < 6; i++ {
			if i > 0 && t[i*3-1] != sep {
				return m, fmt.Errorf("bad MAC address %q", s)
			}
			b.WriteString(t[i*3 : i*3+2])
		}
		digits = b.String()
	case len(t) == 14 && t[4] == '.' && t[9] == '.':
		digits = t[0:4] + t[5:9] + t[10:14]
	case len(t) == 12:
		digits = t
	default:
		return m, fmt.Errorf("bad MAC address %q: want six hex octets such as aa:bb:cc:dd:ee:ff", s)
	}
	if _, err := hex.Decode(m[:], []byte(digits)); err != nil {
		return MAC{}, fmt.Errorf("bad MAC address %q: want six hex octets such as aa:bb:cc:dd:ee:ff", s)
	}
	return m, nil
}

// ParseMember reads a pool address entry: an IPv4 or IPv6 address, or a
// CIDR prefix whose host bits are masked off ("192.168.0.1/24" is
// 192.168.0.0/24, as nProbe files write it). A bare address is a host
// prefix (/32 or /128). IPv4-mapped IPv6 addresses are read as IPv4.
func ParseMember(s string) (netip.Prefix, error) {
	t := strings.TrimSpace(s)
	if strings.Contains(t, "/") {
		p, err := netip.ParsePrefix(t)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad address prefix %q", s)
		}
		a := p.Addr()
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("bad address prefix %q: zones are not allowed", s)
		}
		if a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(t)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad address %q", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("bad address %q: zones are not allowed", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Entry puts one prefix or one MAC into a pool. Pools are numbered by the
// caller (an index into its own list).
type Entry struct {
	Pool   int32
	Prefix netip.Prefix // when !IsMAC
	MAC    MAC          // when IsMAC
	IsMAC  bool
}

func (e Entry) String() string {
	if e.IsMAC {
		return e.MAC.String()
	}
	return e.Prefix.String()
}

// Conflict reports two entries (indexes into the NewTable input) that
// name the same prefix or MAC. Same pool: a harmless duplicate; different
// pools: ambiguous membership, which callers treat as an error.
type Conflict struct {
	First, Second int
	SamePool      bool
}

// Table finds the pool of a host: a MAC entry beats any address entry
// (it names one machine), otherwise the longest matching prefix wins.
type Table struct {
	addrs *netmatch.PrefixTable[int32]
	macs  map[MAC]int32
	n     int
}

// NewTable builds a table. For a prefix or MAC listed twice, the first
// entry wins and the repetition is reported.
func NewTable(entries []Entry) (*Table, []Conflict) {
	var conflicts []Conflict
	t := &Table{macs: make(map[MAC]int32)}
	seenMAC := make(map[MAC]int)
	seenPfx := make(map[netip.Prefix]int)
	var pes []netmatch.PrefixEntry[int32]
	for i, e := range entries {
		if e.IsMAC {
			if j, dup := seenMAC[e.MAC]; dup {
				conflicts = append(conflicts, Conflict{j, i, entries[j].Pool == e.Pool})
				continue
			}
			seenMAC[e.MAC] = i
			t.macs[e.MAC] = e.Pool
			t.n++
			continue
		}
		if !e.Prefix.IsValid() {
			continue
		}
		p := e.Prefix.Masked()
		if j, dup := seenPfx[p]; dup {
			conflicts = append(conflicts, Conflict{j, i, entries[j].Pool == e.Pool})
			continue
		}
		seenPfx[p] = i
		pes = append(pes, netmatch.PrefixEntry[int32]{Prefix: p, Value: e.Pool})
		t.n++
	}
	t.addrs = netmatch.NewPrefixTable(pes)
	return t, conflicts
}

// Len is the number of distinct entries.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// HasMACs reports whether any entry is a MAC, i.e. whether a host's pool
// can depend on its MAC address.
func (t *Table) HasMACs() bool { return t != nil && len(t.macs) > 0 }

// Lookup returns the pool of the host with address a and, when known,
// MAC mac.
func (t *Table) Lookup(a netip.Addr, mac MAC, hasMAC bool) (int32, bool) {
	if t == nil {
		return -1, false
	}
	if hasMAC && len(t.macs) > 0 {
		if p, ok := t.macs[mac]; ok {
			return p, true
		}
	}
	if !a.IsValid() {
		return -1, false
	}
	p, ok := t.addrs.Lookup(a)
	if !ok {
		return -1, false
	}
	return p, true
}

// Prefixes maps addresses to values by longest prefix (category lists
// and other address sets that are not pools).
type Prefixes[T any] struct {
	t *netmatch.PrefixTable[T]
}

// NewPrefixes builds a set; for a prefix given twice the later value wins.
func NewPrefixes[T any](ps []netip.Prefix, vs []T) *Prefixes[T] {
	es := make([]netmatch.PrefixEntry[T], 0, len(ps))
	for i, p := range ps {
		es = append(es, netmatch.PrefixEntry[T]{Prefix: p, Value: vs[i]})
	}
	return &Prefixes[T]{t: netmatch.NewPrefixTable(es)}
}

// Lookup returns the value of the longest prefix containing a.
func (p *Prefixes[T]) Lookup(a netip.Addr) (T, bool) {
	if p == nil {
		var zero T
		return zero, false
	}
	return p.t.Lookup(a)
}

// Len is the number of prefixes.
func (p *Prefixes[T]) Len() int {
	if p == nil {
		return 0
	}
	return p.t.Len()
}
