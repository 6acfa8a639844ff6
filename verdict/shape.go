package verdict

import (
	"fmt"
	"net/netip"
	"strings"
)

// Shaping vocabulary: what the policy says about bandwidth (ShapePlan),
// and how the queues' kernel rules find a flow's tc class
// (Classification). The shaping package turns a plan into tc classes and
// a classification; the nfq package turns a classification into the
// nftables maps that set each packet's skb priority. Neither imports the
// other: both speak these types.

// ShaperPer says how a shaper's rate is divided between LAN hosts.
type ShaperPer uint8

const (
	// PerPool (the default): one bucket of the shaper's rate for each
	// pool, so one subnet's flows never eat another's budget.
	PerPool ShaperPer = iota
	// PerAll: one bucket for everyone.
	PerAll
	// PerHost: one bucket for each LAN host address inside each pool,
	// created when the host's first flow is decided and removed when idle.
	PerHost
)

var perNames = [...]string{"pool", "all", "host"}

func (p ShaperPer) String() string {
	if int(p) < len(perNames) {
		return perNames[p]
	}
	return fmt.Sprintf("per(%d)", uint8(p))
}

// ParseShaperPer reads "pool", "all" or "host" (any case; "" is pool).
func ParseShaperPer(s string) (ShaperPer, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return PerPool, nil
	}
	for i, n := range perNames {
		if n == t {
			return ShaperPer(i), nil
		}
	}
	return PerPool, fmt.Errorf("per %q: want \"pool\", \"all\" or \"host\"", s)
}

// ShaperSpec is one shaper of a policy: its class in the mark, its
// guaranteed rate and the most it may borrow (bits per second), and how
// the rate is divided.
type ShaperSpec struct {
	Name       string
	Class      uint16
	Rate, Ceil uint64
	Per        ShaperPer
}

// PoolSpec is one pool of LAN hosts as shaping sees it: its label (the
// Decision.Pool of its flows) and its address prefixes. A host's pool is
// its longest matching prefix, as in the policy.
type PoolSpec struct {
	Name     string
	Prefixes []netip.Prefix
}

// ShapePlan is everything shaping needs from a policy.
type ShapePlan struct {
	Shapers []ShaperSpec
	Pools   []PoolSpec
}

// Shaper returns the shaper of a class.
func (p *ShapePlan) Shaper(class uint16) (ShaperSpec, bool) {
	for _, s := range p.Shapers {
		if s.Class == class {
			return s, true
		}
	}
	return ShaperSpec{}, false
}

// PoolRange is a run of addresses [From, To] (inclusive, one family)
// whose hosts are in the pool with key Pool.
type PoolRange struct {
	From, To netip.Addr
	Pool     uint32
}

// ClassEntry says: flows of shaper class Class whose LAN host is in the
// pool with key Pool go to tc class ClassID (major:minor, as skb
// priority).
type ClassEntry struct {
	Pool    uint32
	Class   uint16
	ClassID uint32
}

// HostEntry says: flows of shaper class Class whose LAN host is Addr go
// to tc class ClassID (per-host shapers).
type HostEntry struct {
	Addr    netip.Addr
	Class   uint16
	ClassID uint32
}

// Classification is how the kernel finds a shaped packet's tc class from
// its LAN address and its ct mark: first the host entries, then the
// host's pool (Ranges) and the pool entries, else the shaper's own class.
// Ports are the interfaces whose egress carries our HTB: WAN ports shape
// uploads (the LAN host is the source), LAN ports downloads (the LAN host
// is the destination).
type Classification struct {
	Ranges   []PoolRange
	Entries  []ClassEntry
	Hosts    []HostEntry
	WANPorts []string
	LANPorts []string
	// SmallUnshaped, when not 0, sends a shaped flow's packets of at most
	// that many bytes (pure TCP ACKs) to SmallClassID instead of its
	// class. Without a flow-fair leaf (fq_codel), a download's ACKs
	// would otherwise wait behind the upload data of the same pool's
	// class on the WAN port, which slows the download far below its rate.
	SmallUnshaped uint16
	SmallClassID  uint32
}

// ClassIDString prints a tc class id as tc does ("1:1a").
func ClassIDString(id uint32) string { return fmt.Sprintf("%x:%x", id>>16, id&0xffff) }

// ClassUpdate adds and removes pool and host entries of a
// Classification as their classes come and go.
type ClassUpdate struct {
	AddEntries, DelEntries []ClassEntry
	AddHosts, DelHosts     []HostEntry
}
