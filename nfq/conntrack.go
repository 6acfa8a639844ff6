package nfq

import (
	"net/netip"

	"ips/verdict"
)

// ctnetlink (linux/netfilter/nfnetlink_conntrack.h).
const (
	ipctnlMsgCtNew      = 0
	ipctnlMsgCtGet      = 1
	ipctnlMsgCtGetStats = 5

	ctaTupleOrig  = 1
	ctaTupleReply = 2
	ctaMark       = 8
	ctaID         = 12
	ctaMarkMask   = 21

	ctaTupleIP    = 1
	ctaTupleProto = 2

	ctaIPv4Src = 1
	ctaIPv4Dst = 2
	ctaIPv6Src = 3
	ctaIPv6Dst = 4

	ctaProtoNum     = 1
	ctaProtoSrcPort = 2
	ctaProtoDstPort = 3
)

// Conn is one conntrack entry as ips reads it: its original-direction
// tuple, its mark and its id (CTA_ID: the kernel's 32-bit handle of the
// entry, stable for its lifetime).
type Conn struct {
	Tuple verdict.Tuple
	Mark  uint32
	ID    uint32
}

func familyOf(t verdict.Tuple) uint8 {
	if t.Src.Addr().Is4() {
		return 2 // AF_INET
	}
	return 10 // AF_INET6
}

func (m *msgBuf) appendTuple(attr uint16, t verdict.Tuple) {
	outer := m.nest(attr)
	ip := m.nest(ctaTupleIP)
	if t.Src.Addr().Is4() {
		s, d := t.Src.Addr().As4(), t.Dst.Addr().As4()
		m.attr(ctaIPv4Src, s[:])
		m.attr(ctaIPv4Dst, d[:])
	} else {
		s, d := t.Src.Addr().As16(), t.Dst.Addr().As16()
		m.attr(ctaIPv6Src, s[:])
		m.attr(ctaIPv6Dst, d[:])
	}
	m.endNest(ip)
	p := m.nest(ctaTupleProto)
	m.attrU8(ctaProtoNum, t.Proto)
	m.attrBE16(ctaProtoSrcPort, t.Src.Port())
	m.attrBE16(ctaProtoDstPort, t.Dst.Port())
	m.endNest(p)
	m.endNest(outer)
}

// appendSetMark appends an IPCTNL_MSG_CT_NEW that updates an existing
// entry (no NLM_F_CREATE) found by its original tuple t, or, when reply is
// set, by the reply tuple reverse(t): the kernel computes
// new = (old & ^mask) ^ mark, so only the bits under mask change.
func (m *msgBuf) appendSetMark(seq uint32, t verdict.Tuple, reply bool, mark, mask uint32) {
	m.begin(subsysCtnetlink<<8|ipctnlMsgCtNew, nlmFRequest|nlmFAck, seq, familyOf(t), 0)
	if reply {
		m.appendTuple(ctaTupleReply, reverse(t))
	} else {
		m.appendTuple(ctaTupleOrig, t)
	}
	m.attrBE32(ctaMark, mark)
	m.attrBE32(ctaMarkMask, mask)
	m.end()
}

// reverse is the tuple of the other direction. For a flow that was
// destination-NATed before our forward hook saw it, the reverse of what
// we saw is the entry's reply tuple.
func reverse(t verdict.Tuple) verdict.Tuple {
	return verdict.Tuple{Proto: t.Proto, Src: t.Dst, Dst: t.Src}
}

// appendDump appends a dump request for the entries of one family whose
// mark has the bits of mask equal to val (mask 0: every entry).
func (m *msgBuf) appendDump(seq uint32, family uint8, val, mask uint32) {
	m.begin(subsysCtnetlink<<8|ipctnlMsgCtGet, nlmFRequest|nlmFDump, seq, family, 0)
	if mask != 0 {
		m.attrBE32(ctaMark, val)
		m.attrBE32(ctaMarkMask, mask)
	}
	m.end()
}

// parseConn reads an IPCTNL_MSG_CT_NEW body as a dump returns it.
func parseConn(body []byte) (Conn, bool) {
	ci, ok := parseConnInfo(body)
	return ci.conn(), ok
}

// conn is the part of ci that Conn keeps.
func (ci *ConnInfo) conn() Conn { return Conn{Tuple: ci.Tuple, Mark: ci.Mark, ID: ci.ID} }

func parseTuple(b []byte) (verdict.Tuple, bool) {
	var t verdict.Tuple
	var src, dst netip.Addr
	var sport, dport uint16
	it := attrIter{b: b}
	for it.next() {
		switch it.typ {
		case ctaTupleIP:
			in := attrIter{b: it.data}
			for in.next() {
				switch {
				case (in.typ == ctaIPv4Src || in.typ == ctaIPv4Dst) && len(in.data) == 4:
					a := netip.AddrFrom4([4]byte(in.data))
					if in.typ == ctaIPv4Src {
						src = a
					} else {
						dst = a
					}
				case (in.typ == ctaIPv6Src || in.typ == ctaIPv6Dst) && len(in.data) == 16:
					a := netip.AddrFrom16([16]byte(in.data))
					if in.typ == ctaIPv6Src {
						src = a
					} else {
						dst = a
					}
				}
			}
		case ctaTupleProto:
			in := attrIter{b: it.data}
			for in.next() {
				switch {
				case in.typ == ctaProtoNum && len(in.data) >= 1:
					t.Proto = in.data[0]
				case in.typ == ctaProtoSrcPort && len(in.data) >= 2:
					sport = be.Uint16(in.data)
				case in.typ == ctaProtoDstPort && len(in.data) >= 2:
					dport = be.Uint16(in.data)
				}
			}
		}
	}
	if !src.IsValid() || !dst.IsValid() {
		return t, false
	}
	t.Src = netip.AddrPortFrom(src, sport)
	t.Dst = netip.AddrPortFrom(dst, dport)
	return t, true
}
