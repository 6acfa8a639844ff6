package nfq

import (
	"fmt"
	"time"

	"ips/verdict"
)

// ctnetlink attributes and values read for accounting
// (linux/netfilter/nfnetlink_conntrack.h, nf_conntrack_tcp.h).
const (
	ipctnlMsgCtDelete = 2

	ctaStatus        = 3
	ctaProtoinfo     = 4
	ctaTimeout       = 7
	ctaCountersOrig  = 9
	ctaCountersReply = 10
	ctaTimestamp     = 20

	ctaCountersPackets   = 1 // be64
	ctaCountersBytes     = 2 // be64
	ctaCounters32Packets = 3 // be32, old kernels
	ctaCounters32Bytes   = 4

	ctaProtoinfoTCP      = 1
	ctaProtoinfoTCPState = 1

	ctaTimestampStart = 1 // be64, ns of the wall clock
	ctaTimestampStop  = 2

	// NFNLGRP_CONNTRACK_* multicast groups.
	nfnlgrpConntrackNew     = 1
	nfnlgrpConntrackUpdate  = 2
	nfnlgrpConntrackDestroy = 3
)

// TCPState is conntrack's TCP state (enum tcp_conntrack).
type TCPState uint8

// The TCP states conntrack reports.
const (
	TCPNone TCPState = iota
	TCPSynSent
	TCPSynRecv
	TCPEstablished
	TCPFinWait
	TCPCloseWait
	TCPLastAck
	TCPTimeWait
	TCPClose
	TCPSynSent2
)

var tcpStateNames = [...]string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

func (s TCPState) String() string {
	if int(s) < len(tcpStateNames) {
		return tcpStateNames[s]
	}
	return fmt.Sprintf("TCP_STATE_%d", s)
}

// Closed reports whether the connection is over for its endpoints:
// TIME_WAIT follows the FIN of both sides (and the last ACK), CLOSE
// follows a RST. Conntrack keeps the entry a while longer (120 s and 10 s
// by default) to absorb stray packets.
func (s TCPState) Closed() bool { return s == TCPTimeWait || s == TCPClose }

// ConnInfo is a conntrack entry with what conntrack counts about it.
type ConnInfo struct {
	Tuple verdict.Tuple // original direction (the initiator's packets)
	Reply verdict.Tuple // reply direction as the kernel tracks it (NAT shows here)
	Mark  uint32
	ID    uint32
	// Status is the IPS_* status bits (seen in dumps and update events).
	Status uint32
	// TCP state, when the entry is TCP and the message carried it.
	TCPState    TCPState
	HasTCPState bool
	// Counters need net.netfilter.nf_conntrack_acct=1 when the entry was
	// created; HasCounters says whether the kernel sent them.
	OrigPackets, OrigBytes   uint64
	ReplyPackets, ReplyBytes uint64
	HasCounters              bool
	// Start and Stop need net.netfilter.nf_conntrack_timestamp=1 when the
	// entry was created (Stop only in destroy events); zero when absent.
	Start, Stop time.Time
	// Timeout is the seconds left before conntrack forgets the entry
	// (dumps and update events).
	Timeout uint32
}

// parseConnInfo reads the body (after the netlink header) of a ctnetlink
// entry message: a dump's or get's IPCTNL_MSG_CT_NEW, or an event.
func parseConnInfo(body []byte) (ConnInfo, bool) {
	var c ConnInfo
	if len(body) < nfgenHdrLen {
		return c, false
	}
	it := attrIter{b: body[nfgenHdrLen:]}
	ok := false
	for it.next() {
		switch it.typ {
		case ctaTupleOrig:
			c.Tuple, ok = parseTuple(it.data)
		case ctaTupleReply:
			c.Reply, _ = parseTuple(it.data)
		case ctaMark:
			readBE32(&c.Mark, it.data)
		case ctaID:
			readBE32(&c.ID, it.data)
		case ctaStatus:
			readBE32(&c.Status, it.data)
		case ctaTimeout:
			readBE32(&c.Timeout, it.data)
		case ctaCountersOrig, ctaCountersReply:
			p, b, has := parseCounters(it.data)
			if has {
				c.HasCounters = true
			}
			if it.typ == ctaCountersOrig {
				c.OrigPackets, c.OrigBytes = p, b
			} else {
				c.ReplyPackets, c.ReplyBytes = p, b
			}
		case ctaProtoinfo:
			in := attrIter{b: it.data}
			for in.next() {
				if in.typ != ctaProtoinfoTCP {
					continue
				}
				tcp := attrIter{b: in.data}
				for tcp.next() {
					if tcp.typ == ctaProtoinfoTCPState && len(tcp.data) >= 1 {
						c.TCPState, c.HasTCPState = TCPState(tcp.data[0]), true
					}
				}
			}
		case ctaTimestamp:
			in := attrIter{b: it.data}
			for in.next() {
				if len(in.data) < 8 {
					continue
				}
				ns := int64(be.Uint64(in.data))
				if ns <= 0 {
					continue
				}
				switch in.typ {
				case ctaTimestampStart:
					c.Start = time.Unix(0, ns)
				case ctaTimestampStop:
					c.Stop = time.Unix(0, ns)
				}
			}
		}
	}
	return c, ok
}

// readBE32 stores a 32-bit big-endian attribute in *dst; a short one
// leaves *dst as it was.
func readBE32(dst *uint32, b []byte) {
	if len(b) >= 4 {
		*dst = be.Uint32(b)
	}
}

func parseCounters(b []byte) (packets, bytes uint64, ok bool) {
	it := attrIter{b: b}
	for it.next() {
		switch {
		case it.typ == ctaCountersPackets && len(it.data) >= 8:
			packets, ok = be.Uint64(it.data), true
		case it.typ == ctaCountersBytes && len(it.data) >= 8:
			bytes, ok = be.Uint64(it.data), true
		case it.typ == ctaCounters32Packets && len(it.data) >= 4:
			packets, ok = uint64(be.Uint32(it.data)), true
		case it.typ == ctaCounters32Bytes && len(it.data) >= 4:
			bytes, ok = uint64(be.Uint32(it.data)), true
		}
	}
	return packets, bytes, ok
}

// appendGet appends an IPCTNL_MSG_CT_GET for the entry whose original
// tuple is t (or, with reply, whose reply tuple is reverse(t)).
func (m *msgBuf) appendGet(seq uint32, t verdict.Tuple, reply bool) {
	m.begin(subsysCtnetlink<<8|ipctnlMsgCtGet, nlmFRequest, seq, familyOf(t), 0)
	if reply {
		m.appendTuple(ctaTupleReply, reverse(t))
	} else {
		m.appendTuple(ctaTupleOrig, t)
	}
	m.end()
}
