package dpi

// realtimeDissectors are the detectors of this family, in priority order.
var realtimeDissectors = []dissector{}

// realtimeState is the per-flow state of this family's dissectors.
type realtimeState struct{}

// realtimePorts are default ports of this family's protocols (see ports.go).
var realtimePorts = []string{}

// realtimeShared is engine-wide state of this family (caches that outlive a
// flow, such as peers already seen speaking a protocol). One per engine.
type realtimeShared struct{}
