// Package verdict is the vocabulary between the queue and the brain: the
// decision for a flow, the packet metadata the queue hands over, the Decider
// interface, the fail mode, and the layout of decision bits in a mark. It
// touches no kernel and imports nothing of ours.
package verdict

import (
	"fmt"
	"net/netip"
	"strings"
)

// Action is what happens to a flow.
type Action uint8

const (
	// None: no decision yet; the packet is accepted and the flow stays queued.
	None Action = iota
	// Pass accepts the flow.
	Pass
	// Drop silently discards the flow's packets.
	Drop
	// Reject discards and answers with a TCP reset or ICMP unreachable.
	Reject
	// Shape accepts the flow in a shaper class (Decision.Class).
	Shape
	// Mark accepts the flow and tags it with an operator's mark number
	// (nProbe's integer markers) for the operator's own kernel rules.
	Mark
)

var actionNames = [...]string{"none", "pass", "drop", "reject", "shape", "mark"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// ParseAction reads an action name as String prints it.
func ParseAction(s string) (Action, bool) {
	for i, n := range actionNames {
		if strings.EqualFold(n, s) {
			return Action(i), true
		}
	}
	return None, false
}

// Decision is the brain's answer for one packet of a flow. Its strings are
// owned by the compiled policy (never built per packet), so copying a
// Decision allocates nothing.
type Decision struct {
	Action Action
	// Class is the shaper class for Shape, or the operator's mark for Mark.
	Class uint16
	// Final means no later DPI result can change the decision, so the flow
	// can be handed to the kernel and stop being queued.
	Final bool
	// PolicyID is the policy that decided (-1 when none did).
	PolicyID int32
	// Pool, Chain and Rule explain the decision: the pool the LAN host is in,
	// the policy chain ("policy 2 (⊂ 1 ⊂ 0)") and the rule that matched
	// ("hostname www.gstatic.com → drop").
	Pool, Chain, Rule string
}

// Explain renders the path that made the decision, e.g.
// "pool lan2 → policy 2 (⊂ 1 ⊂ 0): hostname www.gstatic.com → drop".
// It allocates; call it when printing, not per packet.
func (d Decision) Explain() string {
	var b strings.Builder
	if d.Pool != "" {
		b.WriteString("pool ")
		b.WriteString(d.Pool)
		b.WriteString(" → ")
	}
	if d.Chain != "" {
		b.WriteString(d.Chain)
		b.WriteString(": ")
	}
	if d.Rule != "" {
		b.WriteString(d.Rule)
	} else {
		b.WriteString(d.Action.String())
	}
	return b.String()
}

// Terminal reports whether the action ends the flow's packets (drop/reject).
func (a Action) Terminal() bool { return a == Drop || a == Reject }

// FailMode is the single switch that says what happens when ips cannot
// decide: the daemon is down, a queue is full, a worker is overloaded or an
// internal error occurs. Every layer reads it from here.
type FailMode uint8

const (
	// FailOpen lets traffic through undecided (the default: a broken IPS
	// must not take the network down).
	FailOpen FailMode = iota
	// FailClosed drops what cannot be decided.
	FailClosed
)

func (m FailMode) String() string {
	if m == FailClosed {
		return "closed"
	}
	return "open"
}

// ParseFailMode reads "open" or "closed".
func ParseFailMode(s string) (FailMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "open", "":
		return FailOpen, nil
	case "closed":
		return FailClosed, nil
	}
	return FailOpen, fmt.Errorf("fail mode %q: want open or closed", s)
}

// Action is the verdict for a packet that cannot be decided.
func (m FailMode) Action() Action {
	if m == FailClosed {
		return Drop
	}
	return Pass
}

// Side says which side of the gateway a packet entered from.
type Side uint8

const (
	SideUnknown Side = iota
	SideLAN
	SideWAN
)

func (s Side) String() string {
	switch s {
	case SideLAN:
		return "lan"
	case SideWAN:
		return "wan"
	}
	return "unknown"
}

// Packet is what the queue hands the brain for one packet. Data starts at
// the IP header and is only valid during the Decide call.
type Packet struct {
	Data []byte
	// Time of arrival, Unix nanoseconds.
	Time int64
	// Interfaces by index: the logical ones (the bridge for bridged
	// traffic) and the physical bridge ports, 0 when unknown.
	InIf, OutIf, PhysIn, PhysOut uint32
	// From is the side the packet entered from, derived by the queue from
	// the configured LAN and WAN interfaces.
	From Side
	// HWAddr is the source MAC when the kernel supplied it.
	HWAddr    [6]byte
	HasHWAddr bool
	// Mark is the packet mark as queued.
	Mark uint32
	// ChecksumUnverified: the kernel says nobody verified the transport
	// checksum (NFQA_SKB_CSUM_NOTVERIFIED); the reader must, since the
	// receiver will drop the packet if it is wrong. False means the
	// kernel verified it or the sender offloads it (not computed yet).
	ChecksumUnverified bool
}

// Tuple names a connection in its original direction, as conntrack does.
type Tuple struct {
	Proto    uint8
	Src, Dst netip.AddrPort
}

func (t Tuple) String() string {
	return fmt.Sprintf("proto %d %s → %s", t.Proto, t.Src, t.Dst)
}

// Decider turns packets into decisions. One Decider serves one queue
// worker and is called from that worker's goroutine only, so it keeps its
// flow state without locks.
type Decider interface {
	// Decide classifies the packet and returns the flow's decision. A
	// decision with Final set will be saved in the connection's mark.
	Decide(p *Packet) Decision
	// Revise re-judges every flow this worker has decided under the
	// current policy and reports those whose decision changed, with the
	// connection tuple so the caller can rewrite the kernel's mark. It runs
	// on the worker's goroutine between packets.
	Revise(changed func(t Tuple, d Decision))
}
