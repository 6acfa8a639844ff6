package dpi

// httpState is the HTTP dissector's per-flow state.
type httpState struct{}

func dissectHTTP(c *Ctx) Status { return Exclude }
