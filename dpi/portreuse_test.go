package dpi

import "testing"

// TestPortReuseAfterDecidedFlow: inline, the FIN and RST of a decided
// flow never reach the engine (the kernel handles the flow), so a new
// connection reusing its ports shows up as a bare SYN on a final flow.
// It must start a new flow, inspected from scratch, not inherit the old
// result (a TLS connection to an allowed name would otherwise let the
// next one, naming a blocked host, through unseen).
func TestPortReuseAfterDecidedFlow(t *testing.T) {
	s := newSim(t, IPProtoTCP, "10.0.0.1:40000", "192.0.2.9:443")
	s.handshake()
	var f *Flow
	for i := 0; i < 10; i++ {
		f = s.send(ToServer, []byte{0xde, 0xad, byte(i)})
	}
	if !f.Result.State.Final() {
		t.Fatalf("first connection not final: %+v", f.Result)
	}
	// No FIN or RST seen: the next packet is the new connection's SYN.
	s.now += 1e9
	f = s.tcp(ToServer, TCPSyn, nil)
	if f.Result.State.Final() || len(s.ended) != 1 {
		t.Errorf("SYN reusing a decided flow's ports: result %+v, %d flows ended; want a new flow being inspected and the old one ended", f.Result, len(s.ended))
	}
	// A retransmitted SYN (no answer from the server yet) stays the same
	// flow.
	g := s.tcp(ToServer, TCPSyn, nil)
	if g != f || len(s.ended) != 1 {
		t.Errorf("retransmitted SYN started another flow (%d ended)", len(s.ended))
	}
}
