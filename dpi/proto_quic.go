package dpi

// quicState is the QUIC dissector's per-flow state.
type quicState struct{}

func dissectQUIC(c *Ctx) Status { return Exclude }

// quicRelease returns pooled QUIC buffers held by s.
func (e *Engine) quicRelease(s *scratch) {}
