package dpi

// lanDissectors are the detectors of this family, in priority order.
var lanDissectors = []dissector{}

// lanState is the per-flow state of this family's dissectors.
type lanState struct{}

// lanPorts are default ports of this family's protocols (see ports.go).
var lanPorts = []string{}

// lanShared is engine-wide state of this family (caches that outlive a
// flow, such as peers already seen speaking a protocol). One per engine.
type lanShared struct{}
