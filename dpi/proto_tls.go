package dpi

// tlsState is the TLS dissector's per-flow state.
type tlsState struct{}

func dissectTLS(c *Ctx) Status { return Exclude }
