package dpi

// dissectors is the registry of protocol detectors, in priority order:
// when two could claim a payload, the earlier one is asked first. Each
// family of protocols keeps its list (and its per-flow state type) in its
// own file.
var dissectors = concatDissectors(
	coreDissectors,     // dissectors_core.go: TLS, QUIC, HTTP, DNS, SSH
	p2pDissectors,      // dissectors_p2p.go: peer-to-peer, VPNs and tunnels
	realtimeDissectors, // dissectors_realtime.go: calls, conferencing, streaming
	lanDissectors,      // dissectors_lan.go: LAN, server and industrial protocols
)

func concatDissectors(lists ...[]dissector) []dissector {
	var all []dissector
	for _, l := range lists {
		all = append(all, l...)
	}
	if len(all) > dissectorWords*64 {
		panic("dpi: more dissectors than the exclusion bitmap holds; raise dissectorWords")
	}
	return all
}
