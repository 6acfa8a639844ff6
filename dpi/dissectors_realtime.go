package dpi

// realtimeDissectors are the detectors of this family, in priority order:
// exact signatures first, STUN next, and the RTP heuristic, which needs
// several packets, last.
var realtimeDissectors = []dissector{
	{name: "STUN", l4: onTCP | onUDP, tcpPorts: []uint16{3478, 5349}, udpPorts: []uint16{3478, 5349, 19302}, fn: dissectSTUN},
	{name: "RTP", l4: onTCP | onUDP, fn: dissectRTP},
}

// realtimeState is the per-flow state of this family's dissectors. Each
// field is a few bytes: the flow carries it only while it is inspected.
type realtimeState struct {
	stun stunState
	rtp  rtpState
}

// realtimePorts are nDPI's default ports of this family's protocols (see
// ports.go; protocols already in corePorts are not repeated).
var realtimePorts = []string{}

// realtimeShared is engine-wide state of this family. One per engine.
type realtimeShared struct {
	// stunPeers: endpoints seen in calls of a known application (STUN
	// sub-classification), so their later STUN/media flows are named.
	stunPeers stunPeerCache
}

// pktCount is the number of packets with payload seen in the flow so far,
// both directions, including the current one (nDPI's packet counter).
func pktCount(c *Ctx) int { return c.Payloads(ToServer) + c.Payloads(ToClient) }
