package nfq

import (
	"net/netip"
	"testing"
	"time"

	"ips/verdict"
)

// destroyMsg builds a destroy event body as the kernel sends it (tuples,
// mark, id, counters in both directions, TCP state, timestamps).
func destroyMsg(t verdict.Tuple, mark uint32, state TCPState) []byte {
	var m msgBuf
	m.begin(subsysCtnetlink<<8|ipctnlMsgCtDelete, 0, 0, familyOf(t), 0)
	m.appendTuple(ctaTupleOrig, t)
	m.appendTuple(ctaTupleReply, reverse(t))
	m.attrBE32(ctaMark, mark)
	m.attrBE32(ctaID, 77)
	for i, c := range [][2]uint64{{226, 11785}, {1125, 67170268}} {
		n := m.nest(uint16(ctaCountersOrig + i))
		m.attr(ctaCountersPackets, be.AppendUint64(nil, c[0]))
		m.attr(ctaCountersBytes, be.AppendUint64(nil, c[1]))
		m.endNest(n)
	}
	p := m.nest(ctaProtoinfo)
	tcp := m.nest(ctaProtoinfoTCP)
	m.attrU8(ctaProtoinfoTCPState, uint8(state))
	m.endNest(tcp)
	m.endNest(p)
	ts := m.nest(ctaTimestamp)
	m.attr(ctaTimestampStart, be.AppendUint64(nil, uint64(time.Unix(1000, 5).UnixNano())))
	m.attr(ctaTimestampStop, be.AppendUint64(nil, uint64(time.Unix(1002, 0).UnixNano())))
	m.endNest(ts)
	m.end()
	return m.b
}

func TestParseConnInfo(t *testing.T) {
	tu := verdict.Tuple{Proto: 6, Src: netip.MustParseAddrPort("10.77.0.2:51221"), Dst: netip.MustParseAddrPort("10.77.0.200:8081")}
	b := destroyMsg(tu, 0x00810000, TCPTimeWait)
	msg, _, ok := nextMsg(b)
	if !ok {
		t.Fatal("no message")
	}
	ci, ok := parseConnInfo(msg.body)
	if !ok {
		t.Fatal("not parsed")
	}
	want := ConnInfo{Tuple: tu, Reply: reverse(tu), Mark: 0x00810000, ID: 77, TCPState: TCPTimeWait, HasTCPState: true,
		OrigPackets: 226, OrigBytes: 11785, ReplyPackets: 1125, ReplyBytes: 67170268, HasCounters: true,
		Start: time.Unix(1000, 5), Stop: time.Unix(1002, 0)}
	if ci != want {
		t.Errorf("got  %+v\nwant %+v", ci, want)
	}
	if !ci.TCPState.Closed() || TCPEstablished.Closed() || TCPState(99).String() != "TCP_STATE_99" || TCPClose.String() != "CLOSE" {
		t.Error("TCP state helpers")
	}
	// Without counters (accounting off) and with an IPv6 tuple.
	var m msgBuf
	t6 := verdict.Tuple{Proto: 17, Src: netip.MustParseAddrPort("[fd77::2]:5000"), Dst: netip.MustParseAddrPort("[fd77::200]:53")}
	m.begin(subsysCtnetlink<<8|ipctnlMsgCtNew, 0, 0, familyOf(t6), 0)
	m.appendTuple(ctaTupleOrig, t6)
	m.end()
	msg, _, _ = nextMsg(m.b)
	if ci, ok := parseConnInfo(msg.body); !ok || ci.Tuple != t6 || ci.HasCounters || ci.HasTCPState {
		t.Errorf("v6 without counters: %+v %v", ci, ok)
	}
}

// FuzzParseConnInfo: any bytes parse without panicking, and a parsed
// entry has a valid tuple.
func FuzzParseConnInfo(f *testing.F) {
	tu := verdict.Tuple{Proto: 6, Src: netip.MustParseAddrPort("10.0.0.1:1"), Dst: netip.MustParseAddrPort("10.0.0.2:2")}
	b := destroyMsg(tu, 1, TCPClose)
	f.Add(b[nlmsgHdrLen:])
	f.Add([]byte{2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		ci, ok := parseConnInfo(body)
		if ok && (!ci.Tuple.Src.IsValid() || !ci.Tuple.Dst.IsValid()) {
			t.Fatalf("parsed without a tuple: %+v", ci)
		}
	})
}
