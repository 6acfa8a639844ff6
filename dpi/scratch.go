package dpi

// scratch is a flow's inspection state: TCP stream tracking, the set of
// dissectors ruled out, and each dissector's per-flow state. The engine
// recycles scratches, so a flow holds one only while it is being inspected;
// a classified flow keeps none. Each dissector adds its own state struct
// here (small: the big buffers come from the engine's stream pool).
type scratch struct {
	excluded [dissectorWords]uint64
	// owner is the index+1 of the dissector that classified the flow and
	// asked for more packets; only it runs from then on.
	owner uint16
	// catCategory is a category the catalog assigned to the host or
	// address, which overrides the protocol's.
	catCategory CategoryID
	// tcp is the stream state of both directions, for TCP flows only: it
	// comes from the engine's own free list (tcpFree) so a flood of UDP
	// flows does not pay 2×96 bytes each for it (a scratch without it
	// fits Go's 576-byte size class, with it the 768-byte one).
	tcp *[2]tcpDir
	// payloads counts packets with payload per direction.
	payloads [2]uint16
	// spent counts the packets charged to the budget (TCP); free those
	// that only advanced a reassembly.
	spent, free uint16
	// closed: an acceptable RST was seen. overflowed: bit per direction
	// whose buffer filled up. overlapDiffers: held bytes were
	// contradicted.
	closed         bool
	overlapDiffers bool
	overflowed     uint8
	// incomplete: the last dissector call in direction incDir, by the
	// dissector incBy, left a message half read (Ctx.Incomplete). exempt
	// counts the datagrams not charged to the budget meanwhile (TCP
	// reassembly is not charged anyway: spent and free).
	incomplete bool
	incDir     Dir
	incBy      uint16
	exempt     uint16

	tls      tlsState
	quic     quicState
	dtls     dtlsState
	http     httpState
	dns      dnsState
	ssh      sshState
	p2p      p2pState
	realtime realtimeState
	lan      lanState
}

const dissectorWords = 4 // up to 256 dissectors

// reset clears s for reuse, keeping its (pooled) buffers detached.
func (s *scratch) reset() {
	*s = scratch{}
}
