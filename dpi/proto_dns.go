package dpi

// dnsState is the DNS dissector's per-flow state.
type dnsState struct{}

func dissectDNS(c *Ctx) Status { return Exclude }
