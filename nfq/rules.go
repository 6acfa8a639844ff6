package nfq

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"

	"ips/verdict"
)

// Our nftables objects. The table is ours alone; nothing else is touched.
const (
	TableName    = "ips"
	chainForward = "forward"
	chainSave    = "save"
	chainShape   = "shape"
	tagPrefix    = "ips:"

	// ChainPriority runs our forward chain just before the usual filter
	// chains (priority 0, e.g. OpenWrt's fw4), so a flow we drop costs
	// them nothing; our accept does not skip them.
	ChainPriority = -10
)

// QueueImpl says how the queue rule reaches NFQUEUE.
type QueueImpl uint8

const (
	// QueueNative is nft's own "queue" expression (CONFIG_NFT_QUEUE).
	QueueNative QueueImpl = iota + 1
	// QueueCompat is the xtables NFQUEUE target through nft_compat, what
	// "iptables-nft -j NFQUEUE --queue-balance A:B --queue-bypass"
	// installs (CONFIG_NFT_COMPAT + CONFIG_NETFILTER_XT_TARGET_NFQUEUE).
	QueueCompat
)

func (q QueueImpl) String() string {
	switch q {
	case QueueNative:
		return "native nft queue"
	case QueueCompat:
		return "xt NFQUEUE target via nft_compat"
	}
	return "none"
}

// Port is one configured interface: a bridge port or a routed interface.
//
// Bridged packets cross the inet forward hook (through br_netfilter) with
// the bridge itself as their in and out interface; their ports are only
// visible to the xtables physdev match. Linux 6.x registers xt_physdev for
// the ip and ip6 families only, so nft_compat refuses it in an inet table
// (ENOENT). Where it works we match the ports with it; elsewhere the queue
// rule matches the bridge (iifname/oifname = the bridge) and the daemon
// itself lets through, with a final "pass", the first packet of any flow
// that does not cross between a LAN port and a WAN port (NFQUEUE reports
// the physical in and out ports).
type Port struct {
	Name       string
	BridgePort bool
	Bridge     string // the port's bridge, when BridgePort
}

// rulesetSpec is everything the table's contents depend on.
type rulesetSpec struct {
	layout    verdict.MarkLayout
	fail      verdict.FailMode
	queueBase uint16
	queues    uint16
	impl      QueueImpl
	lan, wan  []Port
	// physdev says the physdev match works in the inet family.
	physdev bool
	// classID gives the skb priority (tc class id major:minor) of a shaper
	// class; HTB uses skb->priority directly when it names one of its
	// classes.
	classID func(class uint16) uint32
	// classes are the shaper classes in use (one rule each).
	classes []uint16
}

// ruleSpec is one rule: its chain, its tag (the userdata comment by which
// we recognise it), the nft line it is equivalent to, and its expressions.
type ruleSpec struct {
	chain string
	tag   string
	nft   string
	exprs []expr.Any
}

func le32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// loadMasked loads the meta or ct mark into register 1 and masks it.
func loadMetaMark(mask uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: le32(mask), Xor: le32(0)},
	}
}

func loadCtMark(mask uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: le32(mask), Xor: le32(0)},
	}
}

func cmpEq(v uint32) expr.Any { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: le32(v)} }

func isTCP() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
	}
}

func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one(e ...expr.Any) []expr.Any { return e }

// NFQUEUE target info, revision 3 (linux/netfilter/xt_NFQUEUE.h):
// struct xt_NFQ_info_v3 { __u16 queuenum; __u16 queues_total; __u16 flags; },
// host byte order, padded to XT_ALIGN (8).
const (
	nfqFlagBypass = 0x01
)

func nfqueueTargetInfo(base, total uint16, bypass bool) []byte {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint16(b[0:2], base)
	binary.NativeEndian.PutUint16(b[2:4], total)
	if bypass {
		binary.NativeEndian.PutUint16(b[4:6], nfqFlagBypass)
	}
	return b
}

// physdev match info, revision 0 (linux/netfilter/xt_physdev.h):
// struct xt_physdev_info { char physindev[16]; char in_mask[16];
// char physoutdev[16]; char out_mask[16]; __u8 invert; __u8 bitmask; },
// 66 bytes padded to 72. The mask covers the name and its NUL, as
// iptables sets it for an exact name.
const (
	physdevOpIn  = 0x01
	physdevOpOut = 0x02
)

func physdevInfo(in, out string) []byte {
	b := make([]byte, 72)
	put := func(off int, name string) {
		copy(b[off:off+16], name)
		for i := 0; i <= len(name) && i < 16; i++ {
			b[off+16+i] = 0xff
		}
	}
	if in != "" {
		put(0, in)
		b[65] |= physdevOpIn
	}
	if out != "" {
		put(32, out)
		b[65] |= physdevOpOut
	}
	return b
}

func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

// pathMatch matches packets entering through in and leaving through out.
func pathMatch(in, out Port, physdev bool) ([]expr.Any, string) {
	var ex []expr.Any
	var txt []string
	var physIn, physOut string
	name := func(p Port) string {
		if p.BridgePort {
			return p.Bridge
		}
		return p.Name
	}
	if in.BridgePort && physdev {
		physIn = in.Name
	} else {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(name(in))})
		txt = append(txt, fmt.Sprintf("iifname %q", name(in)))
	}
	if out.BridgePort && physdev {
		physOut = out.Name
	} else {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(name(out))})
		txt = append(txt, fmt.Sprintf("oifname %q", name(out)))
	}
	if physIn != "" || physOut != "" {
		info := xt.Unknown(physdevInfo(physIn, physOut))
		ex = append(ex, &expr.Match{Name: "physdev", Rev: 0, Info: &info})
		var p []string
		if physIn != "" {
			p = append(p, "--physdev-in "+physIn)
		}
		if physOut != "" {
			p = append(p, "--physdev-out "+physOut)
		}
		txt = append(txt, "xt match physdev ("+strings.Join(p, " ")+")")
	}
	return ex, strings.Join(txt, " ")
}

// queueStmt is the statement that hands a packet to our queues.
func queueStmt(s *rulesetSpec) (expr.Any, string) {
	bypass := s.fail == verdict.FailOpen
	txt := fmt.Sprintf("queue num %d", s.queueBase)
	if s.queues > 1 {
		txt = fmt.Sprintf("queue num %d-%d", s.queueBase, s.queueBase+s.queues-1)
	}
	if bypass {
		txt += " bypass"
	}
	if s.impl == QueueNative {
		q := &expr.Queue{Num: s.queueBase, Total: s.queues}
		if bypass {
			q.Flag = expr.QueueFlagBypass
		}
		return q, txt
	}
	info := xt.Unknown(nfqueueTargetInfo(s.queueBase, s.queues, bypass))
	return &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &info}, txt
}

func hex32(v uint32) string { return fmt.Sprintf("0x%08x", v) }

// rules builds the whole ruleset in order. Mark values in the comments are
// those of the default mask 0x00ff0000 (decided 0x00010000, action bits
// 0x000e0000); the code uses the configured layout.
func (s *rulesetSpec) rules() []ruleSpec {
	l := s.layout
	mask := l.Mask()
	dec := l.DecidedBit()
	am := l.ActionMask()
	var r []ruleSpec
	add := func(chain, tag, nft string, ex []expr.Any) {
		r = append(r, ruleSpec{chain: chain, tag: tagPrefix + tag, nft: nft, exprs: ex})
	}

	// Forward chain, rule 1: a packet coming back from us with NF_REPEAT
	// carries the decision in its mark; save it in the conntrack entry.
	// nft: meta mark & 0x00010000 == 0x00010000 jump save
	add(chainForward, "save", fmt.Sprintf("meta mark & %s == %s jump %s", hex32(dec), hex32(dec), chainSave),
		join(loadMetaMark(dec), one(cmpEq(dec), &expr.Verdict{Kind: expr.VerdictJump, Chain: chainSave})))

	// Decided flows, by their ct mark, before any queue rule; passed flows
	// first, as they carry most of the traffic.
	// nft: ct mark & 0x000f0000 == 0x00030000 counter accept
	pass := l.ActionValue(verdict.Pass)
	add(chainForward, "pass", fmt.Sprintf("ct mark & %s == %s counter accept", hex32(am), hex32(pass)),
		join(loadCtMark(am), one(cmpEq(pass), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictAccept})))
	// nft: ct mark & 0x000f0000 == 0x00050000 counter drop
	drop := l.ActionValue(verdict.Drop)
	add(chainForward, "drop", fmt.Sprintf("ct mark & %s == %s counter drop", hex32(am), hex32(drop)),
		join(loadCtMark(am), one(cmpEq(drop), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})))
	// nft: ct mark & 0x000f0000 == 0x00070000 meta l4proto tcp counter reject with tcp reset
	rej := l.ActionValue(verdict.Reject)
	add(chainForward, "reject-tcp", fmt.Sprintf("ct mark & %s == %s meta l4proto tcp counter reject with tcp reset", hex32(am), hex32(rej)),
		join(loadCtMark(am), one(cmpEq(rej)), isTCP(), one(&expr.Counter{}, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})))
	// nft: ct mark & 0x000f0000 == 0x00070000 counter reject   (icmpx port-unreachable)
	add(chainForward, "reject", fmt.Sprintf("ct mark & %s == %s counter reject", hex32(am), hex32(rej)),
		join(loadCtMark(am), one(cmpEq(rej), &expr.Counter{},
			&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH})))
	// Shaped flows get the HTB class of their shaper class as skb priority,
	// one rule per class in use in the shape chain.
	// nft: ct mark & 0x000f0000 == 0x00090000 jump shape
	shape := l.ActionValue(verdict.Shape)
	add(chainForward, "shape", fmt.Sprintf("ct mark & %s == %s jump %s", hex32(am), hex32(shape), chainShape),
		join(loadCtMark(am), one(cmpEq(shape), &expr.Verdict{Kind: expr.VerdictJump, Chain: chainShape})))
	// Every other decided flow (operator marks, a shaper class without a
	// map entry) is accepted: decided flows never go back to the queue.
	// nft: ct mark & 0x00010000 == 0x00010000 counter accept
	add(chainForward, "decided", fmt.Sprintf("ct mark & %s == %s counter accept", hex32(dec), hex32(dec)),
		join(loadCtMark(dec), one(cmpEq(dec), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictAccept})))

	// IPv6 neighbour discovery (RFC 4861: router solicitation 133 to
	// redirect 137) is the IPv6 counterpart of ARP, which never reaches
	// the inet hooks: it is not inspected, so that decided IPv6 flows keep
	// their neighbours while the daemon is down in fail-closed mode.
	// nft: meta l4proto ipv6-icmp icmpv6 type 133-137 accept
	add(chainForward, "nd", "meta l4proto ipv6-icmp icmpv6 type 133-137 accept", []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: []byte{133}, ToData: []byte{137}},
		&expr.Verdict{Kind: expr.VerdictAccept},
	})

	// Undecided traffic crossing between the LAN and the WAN goes to the
	// queues. A packet whose own mark says decided is never queued again
	// (it has no conntrack entry to save the decision in), which rules
	// out an NF_REPEAT loop.
	// nft: meta mark & 0x00010000 == 0x00000000 <path> counter queue num 0-1 bypass
	q, qtxt := queueStmt(s)
	seen := map[string]bool{}
	for _, dir := range [][2][]Port{{s.lan, s.wan}, {s.wan, s.lan}} {
		for _, in := range dir[0] {
			for _, out := range dir[1] {
				pm, ptxt := pathMatch(in, out, s.physdev)
				if seen[ptxt] {
					continue // two ports of one bridge without physdev
				}
				seen[ptxt] = true
				add(chainForward, "queue", fmt.Sprintf("meta mark & %s == 0x00000000 %s counter %s", hex32(dec), ptxt, qtxt),
					join(loadMetaMark(dec), one(cmpEq(0)), pm, one(&expr.Counter{}, q)))
			}
		}
	}

	// Save chain: copy the decision bits from the packet mark into the ct
	// mark, keeping the ct mark's other bits. nft's bitwise expression only
	// takes constants, so the bits are cleared and then set one by one.
	// nft: ct mark set ct mark & 0xff00ffff
	add(chainSave, "save-clear", fmt.Sprintf("ct mark set ct mark & %s", hex32(^mask)),
		join(loadCtMark(^mask), one(&expr.Ct{Key: expr.CtKeyMARK, Register: 1, SourceRegister: true})))
	for b := mask; b != 0; b &= b - 1 {
		bit := uint32(1) << bits.TrailingZeros32(b)
		// nft: meta mark & 0x00010000 == 0x00010000 ct mark set ct mark | 0x00010000
		add(chainSave, "save-bit", fmt.Sprintf("meta mark & %s == %s ct mark set ct mark | %s", hex32(bit), hex32(bit), hex32(bit)),
			join(loadMetaMark(bit), one(cmpEq(bit),
				&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
				// x | bit == (x & ^bit) ^ bit
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: le32(^bit), Xor: le32(bit)},
				&expr.Ct{Key: expr.CtKeyMARK, Register: 1, SourceRegister: true})))
	}
	// The deciding packet itself is dropped or rejected by its own mark, so
	// this holds even when it has no conntrack entry.
	// nft: meta mark & 0x000f0000 == 0x00050000 drop
	add(chainSave, "save-drop", fmt.Sprintf("meta mark & %s == %s drop", hex32(am), hex32(drop)),
		join(loadMetaMark(am), one(cmpEq(drop), &expr.Verdict{Kind: expr.VerdictDrop})))
	// nft: meta mark & 0x000f0000 == 0x00070000 meta l4proto tcp reject with tcp reset
	add(chainSave, "save-reject-tcp", fmt.Sprintf("meta mark & %s == %s meta l4proto tcp reject with tcp reset", hex32(am), hex32(rej)),
		join(loadMetaMark(am), one(cmpEq(rej)), isTCP(), one(&expr.Reject{Type: unix.NFT_REJECT_TCP_RST})))
	// nft: meta mark & 0x000f0000 == 0x00070000 reject
	add(chainSave, "save-reject", fmt.Sprintf("meta mark & %s == %s reject", hex32(am), hex32(rej)),
		join(loadMetaMark(am), one(cmpEq(rej),
			&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH})))
	s.shapeRules(add)
	return r
}

// shapeRules are the shape chain: the skb priority of each class in use.
func (s *rulesetSpec) shapeRules(add func(chain, tag, nft string, ex []expr.Any)) {
	classID := s.classID
	if classID == nil {
		classID = DefaultClassID
	}
	mask := s.layout.Mask()
	for _, c := range s.shapeClasses() {
		v := s.layout.Value(verdict.Decision{Action: verdict.Shape, Class: c, Final: true})
		id := classID(c)
		// The packet mark gets the decision too: the egress classification
		// (table netdev ips, shaperules.go) reads it there, where the ct
		// mark cannot be read (nft_ct refuses the netdev family).
		// nft: ct mark & 0x00ff0000 == 0x00190000 meta priority set 1:1 meta mark set meta mark & 0xff00ffff | 0x00190000 counter accept
		add(chainShape, "shape-class", fmt.Sprintf("ct mark & %s == %s meta priority set %x:%x meta mark set meta mark & %s | %s counter accept", hex32(mask), hex32(v), id>>16, id&0xffff, hex32(^mask), hex32(v)),
			join(loadCtMark(mask), one(cmpEq(v),
				&expr.Immediate{Register: 1, Data: le32(id)},
				&expr.Meta{Key: expr.MetaKeyPRIORITY, SourceRegister: true, Register: 1},
				&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
				// (x & ^mask) ^ v == (x & ^mask) | v, v being inside the mask
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: le32(^mask), Xor: le32(v)},
				&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
				&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictAccept})))
	}
}

// shapeClasses are the configured classes that fit the layout, or every
// class up to 15 when none are configured.
func (s *rulesetSpec) shapeClasses() []uint16 {
	maxc := s.layout.MaxClass()
	var out []uint16
	if s.classes == nil {
		for c := uint16(1); c <= min(maxc, 15); c++ {
			out = append(out, c)
		}
		return out
	}
	for _, c := range s.classes {
		if c >= 1 && c <= maxc {
			out = append(out, c)
		}
	}
	return out
}

// DefaultClassID is the skb priority of shaper class c: HTB class 1:c
// (major 1, minor c), the layout the shaping package is expected to build.
func DefaultClassID(c uint16) uint32 { return 1<<16 | uint32(c) }
