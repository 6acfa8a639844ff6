package harness

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"ips/verdict"
)

// PortPolicy decides flows by their server (destination) port: a stand-in
// for the policy engine that exercises the queue, the marks and reloads
// without DPI.
type PortPolicy struct {
	// ByPort maps a server port to its action; Default applies otherwise.
	ByPort  map[uint16]verdict.Action
	Default verdict.Action
	// Decisions gives whole decisions (a shaper class, an operator mark)
	// by server port; it wins over ByPort.
	Decisions map[uint16]verdict.Decision
	// After is the number of packets of a flow answered "undecided" before
	// the decision is final, as DPI would while it inspects.
	After int
	// Never keeps every flow undecided (every packet is queued): the load
	// for the queue speed test.
	Never bool
	// Slow makes every decision take this long: an overloaded worker.
	Slow time.Duration
}

// PortDeciders makes one decider per queue over a shared, swappable
// policy.
type PortDeciders struct {
	policy atomic.Pointer[PortPolicy]
	mu     sync.Mutex
	all    []*PortDecider
}

// NewPortDeciders starts with policy p.
func NewPortDeciders(p PortPolicy) *PortDeciders {
	d := &PortDeciders{}
	d.policy.Store(&p)
	return d
}

// Set swaps the policy (a reload).
func (d *PortDeciders) Set(p PortPolicy) { d.policy.Store(&p) }

// New is an nfq.Config.NewDecider.
func (d *PortDeciders) New(queue uint16) verdict.Decider {
	pd := &PortDecider{policy: &d.policy, flows: map[flowKey]*flowState{}}
	d.mu.Lock()
	d.all = append(d.all, pd)
	d.mu.Unlock()
	return pd
}

// Packets is the number of packets all deciders saw.
func (d *PortDeciders) Packets() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var n uint64
	for _, pd := range d.all {
		n += pd.packets.Load()
	}
	return n
}

// PortDecider is one queue's decider.
type PortDecider struct {
	policy  *atomic.Pointer[PortPolicy]
	flows   map[flowKey]*flowState
	packets atomic.Uint64
}

type flowKey struct {
	proto    uint8
	src, dst netip.AddrPort
}

type flowState struct {
	tuple   verdict.Tuple
	packets int
	final   bool
	action  verdict.Action
}

// parse reads the addresses, protocol and ports of an IPv4/IPv6 packet.
func parse(b []byte) (k flowKey, ok bool) {
	if len(b) < 1 {
		return k, false
	}
	var l4 []byte
	var src, dst netip.Addr
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return k, false
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return k, false
		}
		k.proto = b[9]
		src = netip.AddrFrom4([4]byte(b[12:16]))
		dst = netip.AddrFrom4([4]byte(b[16:20]))
		l4 = b[ihl:]
	case 6:
		if len(b) < 40 {
			return k, false
		}
		k.proto = b[6]
		src = netip.AddrFrom16([16]byte(b[8:24]))
		dst = netip.AddrFrom16([16]byte(b[24:40]))
		l4 = b[40:]
	default:
		return k, false
	}
	var sp, dp uint16
	if (k.proto == 6 || k.proto == 17) && len(l4) >= 4 {
		sp, dp = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
	}
	k.src, k.dst = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
	return k, true
}

func (p *PortPolicy) decide(serverPort uint16) verdict.Action {
	if a, ok := p.ByPort[serverPort]; ok {
		return a
	}
	return p.Default
}

// Decide implements verdict.Decider.
func (d *PortDecider) Decide(pkt *verdict.Packet) verdict.Decision {
	d.packets.Add(1)
	if p := d.policy.Load(); p.Slow > 0 {
		time.Sleep(p.Slow)
	}
	k, ok := parse(pkt.Data)
	if !ok {
		return verdict.Decision{}
	}
	p := d.policy.Load()
	if p.Never {
		return verdict.Decision{}
	}
	f := d.flows[k]
	if f == nil {
		f = d.flows[flowKey{k.proto, k.dst, k.src}]
	}
	if f == nil {
		f = &flowState{tuple: verdict.Tuple{Proto: k.proto, Src: k.src, Dst: k.dst}}
		d.flows[k] = f
	}
	f.packets++
	if f.packets <= p.After {
		return verdict.Decision{}
	}
	f.final = true
	if d, ok := p.Decisions[f.tuple.Dst.Port()]; ok {
		f.action = d.Action
		d.Final = true
		return d
	}
	f.action = p.decide(f.tuple.Dst.Port())
	return verdict.Decision{Action: f.action, Final: true, Rule: "server port"}
}

// Revise implements verdict.Decider: flows decided under the old policy
// are re-judged by port.
func (d *PortDecider) Revise(changed func(t verdict.Tuple, dec verdict.Decision)) {
	p := d.policy.Load()
	for _, f := range d.flows {
		if !f.final {
			continue
		}
		if p.Never {
			f.final = false
			changed(f.tuple, verdict.Decision{})
			continue
		}
		if a := p.decide(f.tuple.Dst.Port()); a != f.action {
			f.action = a
			changed(f.tuple, verdict.Decision{Action: a, Final: true})
		}
	}
}
