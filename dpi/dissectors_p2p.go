package dpi

// p2pDissectors are the detectors of this family, in priority order.
var p2pDissectors = []dissector{}

// p2pState is the per-flow state of this family's dissectors.
type p2pState struct{}

// p2pPorts are default ports of this family's protocols (see ports.go).
var p2pPorts = []string{}

// p2pShared is engine-wide state of this family (caches that outlive a
// flow, such as peers already seen speaking a protocol). One per engine.
type p2pShared struct{}
