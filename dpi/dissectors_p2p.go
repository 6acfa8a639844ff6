package dpi

// p2pDissectors are the detectors of this family, in priority order.
var p2pDissectors = []dissector{}

// p2pState is the per-flow state of this family's dissectors.
type p2pState struct{}
