package dpi

// realtimeDissectors are the detectors of this family, in priority order.
var realtimeDissectors = []dissector{}

// realtimeState is the per-flow state of this family's dissectors.
type realtimeState struct{}
