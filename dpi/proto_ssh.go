package dpi

// sshState is the SSH dissector's per-flow state.
type sshState struct{}

func dissectSSH(c *Ctx) Status { return Exclude }
