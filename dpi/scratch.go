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
	tcp         [2]tcpDir
	// payloads counts packets with payload per direction.
	payloads [2]uint16
	// incomplete: the last dissector call in direction incDir left a
	// message half read in that direction's stream buffer (Ctx.Incomplete);
	// exempt counts the packets not charged to the budget meanwhile, credit
	// the bytes streamed in that direction that allow them.
	incomplete bool
	incDir     Dir
	incBy      uint16 // index of the dissector reading it
	exempt     uint32
	credit     uint32
	charged    uint16 // packets charged to the budget

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
