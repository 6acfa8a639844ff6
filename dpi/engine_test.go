package dpi

import (
	"net/netip"
	"testing"
	"time"
)

func TestFlowDirectionAndCounters(t *testing.T) {
	s := newSim(t, IPProtoTCP, "10.0.0.1:40000", "192.0.2.9:9999")
	s.handshake()
	f := s.send(ToServer, []byte("hello"))
	s.send(ToClient, []byte("world!"))
	if got := f.Client(); got != s.cli {
		t.Errorf("client %v, want %v", got, s.cli)
	}
	if got := f.Server(); got != s.srv {
		t.Errorf("server %v, want %v", got, s.srv)
	}
	if f.Packets != [2]uint32{3, 2} {
		t.Errorf("packets %v, want [3 2]", f.Packets)
	}
	if f.Bytes[ToServer] != 40*3+5 || f.Bytes[ToClient] != 40*2+6 {
		t.Errorf("bytes %v", f.Bytes)
	}
}

func TestSynAckFirstStillFindsClient(t *testing.T) {
	s := newSim(t, IPProtoTCP, "10.0.0.1:40000", "192.0.2.9:9999")
	f := s.tcp(ToClient, TCPSyn|TCPAck, nil)
	if f.Client() != s.cli {
		t.Errorf("client %v, want %v", f.Client(), s.cli)
	}
}

func TestGiveUpGuessesByPort(t *testing.T) {
	s := newSim(t, IPProtoTCP, "10.0.0.1:40000", "192.0.2.9:443")
	s.handshake()
	var f *Flow
	for i := 0; i < 10; i++ {
		// At least headMin bytes each: shorter first segments would be
		// gathered, not charged to the budget.
		f = s.send(ToServer, []byte{0xde, 0xad, byte(i), 0, 0, 0, 0, 0, 0, 0})
	}
	r := f.Result
	if r.State != GivenUp || !r.Guessed || r.Master != ProtoTLS || r.Confidence != ConfPort {
		t.Errorf("result %+v: want given_up, guessed TLS by port", r)
	}
	if r.DPIPackets != 10 {
		t.Errorf("dpi packets %d, want the budget 10", r.DPIPackets)
	}
	if f.s != nil {
		t.Error("a final flow kept its scratch")
	}
}

func TestICMPClassifiedByIPProtocol(t *testing.T) {
	var p Packet
	b := []byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 8, 0, 0, 0, 0, 1, 0, 1}
	if err := p.DecodeIP(b); err != nil {
		t.Fatal(err)
	}
	e := NewEngine(Config{})
	f, _ := e.Process(&p, 1)
	if f.Result.Master != ProtoICMP || f.Result.State != Classified || p.ICMPType != 8 {
		t.Errorf("got %+v type %d", f.Result, p.ICMPType)
	}
	if f.Client().Port() != 0 || f.Server().Port() != 0 {
		t.Error("ICMP flow has ports")
	}
}

func TestIdleTimeoutAndEviction(t *testing.T) {
	var ended []EndReason
	e := NewEngine(Config{MaxFlows: 16, IdleTimeout: time.Second, OnEnd: func(_ *Flow, why EndReason) { ended = append(ended, why) }})
	var p Packet
	var buf []byte
	send := func(port uint16, now int64) {
		buf = buildIP(buf[:0], IPProtoUDP, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port),
			netip.MustParseAddrPort("10.0.0.2:7"), 0, 0, 0, []byte{1, 2, 3})
		if err := p.DecodeIP(buf); err != nil {
			t.Fatal(err)
		}
		e.Process(&p, now)
	}
	for i := 0; i < 20; i++ {
		send(uint16(1000+i), int64(i)*1e6)
	}
	if e.Stats().Evicted != 4 || e.Stats().Active != 16 {
		t.Fatalf("stats %+v", e.Stats())
	}
	send(5000, 10e9)                    // 10 s later: everything else is idle
	if n := e.Stats().Active; n != 15 { // two expired per packet, one new
		t.Errorf("%d flows left after idle expiry", n)
	}
	e.Expire(10e9)
	if n := e.Stats().Active; n != 1 {
		t.Errorf("%d flows left after Expire, want 1", n)
	}
	e.Flush()
	if n := e.Stats().Active; n != 0 || len(ended) != 21 {
		t.Errorf("after flush: %d active, %d ended", n, len(ended))
	}
}

func TestTableManyInsertRemove(t *testing.T) {
	tb := newTable(1000)
	keys := make([]FlowKey, 0, 1000)
	for i := 0; i < 1000; i++ {
		var k FlowKey
		k.loPort, k.hiPort, k.proto = uint16(i), uint16(i*7), 17
		k.loAddr[3] = byte(i)
		keys = append(keys, k)
		tb.insert(&k, tb.hash(&k))
	}
	for i, k := range keys {
		if i%3 == 0 {
			tb.remove(tb.lookup(&k, tb.hash(&k)))
		}
	}
	for i, k := range keys {
		f := tb.lookup(&k, tb.hash(&k))
		if (f == nil) != (i%3 == 0) {
			t.Fatalf("key %d: found=%v", i, f != nil)
		}
		if f != nil && f.key != k {
			t.Fatalf("key %d: wrong flow", i)
		}
	}
	if tb.count != 666 {
		t.Fatalf("count %d", tb.count)
	}
}

func TestResumedFlowKeepsItsClassification(t *testing.T) {
	s := newSim(t, IPProtoTCP, "10.0.0.1:40000", "192.0.2.9:443")
	s.handshake()
	for i := 0; i < 10; i++ {
		s.send(ToServer, []byte{0xde, 0xad, byte(i)})
	}
	s.now += int64(time.Minute) // longer than the idle timeout
	f := s.send(ToClient, []byte("late data"))
	if len(s.ended) != 1 || s.ended[0].Master != ProtoTLS {
		t.Fatalf("ended %+v: want the first flow reported once, as TLS", s.ended)
	}
	if f.Result.Master != ProtoTLS || !f.Result.State.Final() || f.Client() != s.cli {
		t.Errorf("resumed flow %+v client %v: want TLS, final, same client", f.Result, f.Client())
	}
	// A new connection (SYN) on the same ports after a pause starts fresh.
	s.now += int64(time.Minute)
	f = s.tcp(ToServer, TCPSyn, nil)
	if f.Result.State.Final() {
		t.Errorf("a new SYN resumed an old result: %+v", f.Result)
	}
}
