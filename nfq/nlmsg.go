package nfq

import (
	"encoding/binary"
	"errors"
)

// Netlink and nfnetlink framing, written out here because the fast path
// parses and builds messages in place, without a library's per-message
// structs. Values are from linux/netlink.h, linux/netfilter/nfnetlink.h,
// nfnetlink_queue.h and nfnetlink_conntrack.h (stable kernel ABI).

const (
	nlmsgHdrLen = 16 // struct nlmsghdr
	nfgenHdrLen = 4  // struct nfgenmsg
	nlaHdrLen   = 4  // struct nlattr

	nlmsgError = 2 // NLMSG_ERROR
	nlmsgDone  = 3 // NLMSG_DONE

	nlmFRequest = 0x1
	nlmFMulti   = 0x2
	nlmFAck     = 0x4
	nlmFDump    = 0x300 // NLM_F_ROOT|NLM_F_MATCH

	nlaFNested = 0x8000
	nlaTypeMsk = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER

	nfnetlinkV0 = 0

	subsysCtnetlink = 1 // NFNL_SUBSYS_CTNETLINK
	subsysQueue     = 3 // NFNL_SUBSYS_QUEUE
)

// NFQUEUE message types and attributes (linux/netfilter/nfnetlink_queue.h).
const (
	nfqnlMsgPacket       = 0
	nfqnlMsgVerdict      = 1
	nfqnlMsgConfig       = 2
	nfqnlMsgVerdictBatch = 3

	nfqaPacketHdr    = 1
	nfqaVerdictHdr   = 2
	nfqaMark         = 3
	nfqaTimestamp    = 4
	nfqaIfIndexIn    = 5
	nfqaIfIndexOut   = 6
	nfqaIfIndexPhIn  = 7
	nfqaIfIndexPhOut = 8
	nfqaHWAddr       = 9
	nfqaPayload      = 10
	nfqaCapLen       = 13
	nfqaSkbInfo      = 14

	nfqaCfgCmd         = 1
	nfqaCfgParams      = 2
	nfqaCfgQueueMaxLen = 3
	nfqaCfgMask        = 4
	nfqaCfgFlags       = 5

	nfqnlCfgCmdBind   = 1
	nfqnlCfgCmdUnbind = 2

	nfqnlCopyPacket = 2

	cfgFlagFailOpen  = 1 << 0 // NFQA_CFG_F_FAIL_OPEN
	cfgFlagConntrack = 1 << 1 // NFQA_CFG_F_CONNTRACK (needs netlink glue CT)
	cfgFlagGSO       = 1 << 2 // NFQA_CFG_F_GSO

	skbInfoCsumNotReady = 1 << 0 // NFQA_SKB_CSUMNOTREADY
	skbInfoGSO          = 1 << 1 // NFQA_SKB_GSO
	// NFQA_SKB_CSUM_NOTVERIFIED: at the forward hook (and pre-routing,
	// input), nobody has verified the transport checksum. Without it (and
	// without CSUMNOTREADY) the kernel or the NIC did.
	skbInfoCsumNotVerified = 1 << 2
)

// Netfilter verdicts (linux/netfilter.h).
const (
	nfDrop   = 0
	nfAccept = 1
	nfRepeat = 4
)

var (
	errShort     = errors.New("nfq: truncated netlink message")
	errNotPacket = errors.New("nfq: not an NFQUEUE packet message")
	errNoHeader  = errors.New("nfq: packet message without NFQA_PACKET_HDR")
)

var ne = binary.NativeEndian
var be = binary.BigEndian

func align4(n int) int { return (n + 3) &^ 3 }

// nlMsg is one netlink message inside a datagram.
type nlMsg struct {
	typ, flags uint16
	seq        uint32
	body       []byte // after the nlmsghdr
}

// nextMsg splits the first netlink message off b. It returns the rest, or
// ok=false when b holds no complete message.
func nextMsg(b []byte) (m nlMsg, rest []byte, ok bool) {
	if len(b) < nlmsgHdrLen {
		return m, nil, false
	}
	n := int(ne.Uint32(b[0:4]))
	if n < nlmsgHdrLen || n > len(b) {
		return m, nil, false
	}
	m.typ = ne.Uint16(b[4:6])
	m.flags = ne.Uint16(b[6:8])
	m.seq = ne.Uint32(b[8:12])
	m.body = b[nlmsgHdrLen:n]
	if a := align4(n); a < len(b) {
		rest = b[a:]
	}
	return m, rest, true
}

// errnoOf reads the error code of an NLMSG_ERROR body: 0 is an ack, a
// positive number an errno.
func errnoOf(body []byte) (int32, bool) {
	if len(body) < 4 {
		return 0, false
	}
	return -int32(ne.Uint32(body[0:4])), true
}

// attrIter walks netlink attributes in place.
type attrIter struct {
	b    []byte
	typ  uint16
	data []byte
}

func (it *attrIter) next() bool {
	if len(it.b) < nlaHdrLen {
		return false
	}
	n := int(ne.Uint16(it.b[0:2]))
	if n < nlaHdrLen || n > len(it.b) {
		it.b = nil
		return false
	}
	it.typ = ne.Uint16(it.b[2:4]) & nlaTypeMsk
	it.data = it.b[nlaHdrLen:n]
	if a := align4(n); a < len(it.b) {
		it.b = it.b[a:]
	} else {
		it.b = nil
	}
	return true
}

// msgBuf builds netlink messages into a reusable buffer.
type msgBuf struct {
	b     []byte
	start int // offset of the message being built
}

func (m *msgBuf) reset() { m.b = m.b[:0] }

// begin starts a netfilter message with its nfgenmsg header.
func (m *msgBuf) begin(typ, flags uint16, seq uint32, family uint8, resID uint16) {
	m.start = len(m.b)
	m.b = append(m.b, make([]byte, nlmsgHdrLen)...)
	h := m.b[m.start:]
	ne.PutUint16(h[4:6], typ)
	ne.PutUint16(h[6:8], flags)
	ne.PutUint32(h[8:12], seq)
	m.b = append(m.b, family, nfnetlinkV0, byte(resID>>8), byte(resID))
}

// end writes the length of the message begun last.
func (m *msgBuf) end() {
	ne.PutUint32(m.b[m.start:m.start+4], uint32(len(m.b)-m.start))
}

func (m *msgBuf) attr(typ uint16, data []byte) {
	n := nlaHdrLen + len(data)
	m.b = ne.AppendUint16(m.b, uint16(n))
	m.b = ne.AppendUint16(m.b, typ)
	m.b = append(m.b, data...)
	for i := n; i < align4(n); i++ {
		m.b = append(m.b, 0)
	}
}

func (m *msgBuf) attrBE32(typ uint16, v uint32) {
	m.b = ne.AppendUint16(m.b, nlaHdrLen+4)
	m.b = ne.AppendUint16(m.b, typ)
	m.b = be.AppendUint32(m.b, v)
}

func (m *msgBuf) attrBE16(typ uint16, v uint16) {
	m.b = ne.AppendUint16(m.b, nlaHdrLen+2)
	m.b = ne.AppendUint16(m.b, typ)
	m.b = be.AppendUint16(m.b, v)
	m.b = append(m.b, 0, 0)
}

func (m *msgBuf) attrU8(typ uint16, v uint8) {
	m.b = ne.AppendUint16(m.b, nlaHdrLen+1)
	m.b = ne.AppendUint16(m.b, typ)
	m.b = append(m.b, v, 0, 0, 0)
}

// nest opens a nested attribute; close it with endNest(offset).
func (m *msgBuf) nest(typ uint16) int {
	off := len(m.b)
	m.b = ne.AppendUint16(m.b, 0)
	m.b = ne.AppendUint16(m.b, typ|nlaFNested)
	return off
}

func (m *msgBuf) endNest(off int) {
	ne.PutUint16(m.b[off:off+2], uint16(len(m.b)-off))
}
