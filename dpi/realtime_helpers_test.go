package dpi

import (
	"encoding/binary"
	"testing"
)

// Helpers shared by the real-time family's tests.

// rtPkt is one scripted payload of a flow.
type rtPkt struct {
	d Dir
	b []byte
}

func rtUp(b []byte) rtPkt   { return rtPkt{ToServer, b} }
func rtDown(b []byte) rtPkt { return rtPkt{ToClient, b} }

// rtWorld is one engine under test whose ended flows are recorded by
// their endpoints, so several flows can share the engine's caches.
type rtWorld struct {
	t   testing.TB
	e   *Engine
	res map[string]Result
	now int64
}

func newWorld(t testing.TB) *rtWorld {
	w := &rtWorld{t: t, res: map[string]Result{}, now: 1_700_000_000e9}
	w.e = NewEngine(Config{OnEnd: func(f *Flow, _ EndReason) {
		w.res[f.Client().String()+">"+f.Server().String()] = f.Result
	}})
	return w
}

// flow makes a sim for one flow on the world's engine.
func (w *rtWorld) flow(proto uint8, cli, srv string) *sim {
	s := newSim(w.t, proto, cli, srv)
	w.now += 1e9
	s.e, s.now = w.e, w.now
	return s
}

// rtPlay sends the payloads (after a handshake for TCP) and returns the
// flow as it stands, without ending it.
func (s *sim) rtPlay(pkts ...rtPkt) *Flow {
	if s.proto == IPProtoTCP {
		s.handshake()
	}
	var f *Flow
	for _, p := range pkts {
		f = s.send(p.d, p.b)
	}
	return f
}

// result flushes the engine and returns the flow's final result.
func (w *rtWorld) result(s *sim) Result {
	w.t.Helper()
	w.e.Flush()
	r, ok := w.res[s.cli.String()+">"+s.srv.String()]
	if !ok {
		w.t.Fatalf("flow %v>%v did not end", s.cli, s.srv)
	}
	return r
}

// rtRun sends the payloads of one flow through a fresh engine and
// returns the flow's final result.
func rtRun(t testing.TB, proto uint8, cli, srv string, pkts ...rtPkt) Result {
	t.Helper()
	w := newWorld(t)
	s := w.flow(proto, cli, srv)
	s.rtPlay(pkts...)
	return w.result(s)
}

func rtAppName(r Result) string { return DefaultCatalog().AppName(&r) }

// rtpPacket builds an RTP packet (RFC 3550 §5.1): V=2, no padding,
// extension or CSRCs, marker clear.
func rtpPacket(pt uint8, seq uint16, ts, ssrc uint32, payload int) []byte {
	b := make([]byte, 12+payload)
	b[0] = 0x80
	b[1] = pt
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	for i := 12; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	return b
}

// rtcpRR builds an RTCP receiver report with one report block
// (RFC 3550 §6.4.2): 8-byte header, 24-byte block, length 7 words.
func rtcpRR(ssrc uint32) []byte {
	b := make([]byte, 32)
	b[0] = 0x81 // V=2, RC=1
	b[1] = 201  // RR
	binary.BigEndian.PutUint16(b[2:], 7)
	binary.BigEndian.PutUint32(b[4:], ssrc)
	binary.BigEndian.PutUint32(b[8:], ssrc+1)
	return b
}

// stunAttr is one STUN attribute (RFC 8489 §14).
type stunAttr struct {
	typ uint16
	val []byte
}

// stunMsg builds a STUN message (RFC 8489 §5-6): type, length, magic
// cookie (or, for classic STUN, four more transaction-id bytes), a
// 96-bit transaction id, attributes padded to 4 bytes.
func stunMsg(typ uint16, cookie bool, txid []byte, attrs ...stunAttr) []byte {
	b := make([]byte, 20, 128)
	binary.BigEndian.PutUint16(b, typ)
	if cookie {
		binary.BigEndian.PutUint32(b[4:], stunMagicCookie)
	} else {
		copy(b[4:], "RFC3")
	}
	copy(b[8:20], txid)
	for _, a := range attrs {
		var h [4]byte
		binary.BigEndian.PutUint16(h[:], a.typ)
		binary.BigEndian.PutUint16(h[2:], uint16(len(a.val)))
		b = append(b, h[:]...)
		b = append(b, a.val...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)-20))
	return b
}

// RFC 5769 §2.1's transaction id, used by its test vectors.
var rfc5769TxID = []byte{0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae}

func bindingRequest(attrs ...stunAttr) []byte {
	return stunMsg(0x0001, true, rfc5769TxID, attrs...)
}

func bindingResponse(attrs ...stunAttr) []byte {
	return stunMsg(0x0101, true, rfc5769TxID, attrs...)
}

// xorMapped4 is RFC 5769 §2.2's XOR-MAPPED-ADDRESS: 192.0.2.1:32853.
var xorMapped4 = stunAttr{0x0020, []byte{0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43}}

// stunTestDTLS is a DTLS 1.2 handshake record header with a short body
// (RFC 9147 §4, RFC 6347 §4.1).
func stunTestDTLS() []byte {
	b := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12}
	return append(b, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
}

func rtRepeat(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

func rtCat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func rtLE32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func rtBE32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func rtBE16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func rtLE16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
