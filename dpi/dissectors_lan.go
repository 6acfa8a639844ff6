package dpi

// lanDissectors are the detectors of this family, in priority order.
var lanDissectors = []dissector{}

// lanState is the per-flow state of this family's dissectors.
type lanState struct{}
