package dpi

// The git protocol (git "gitprotocol-pack", pkt-line): the client's first
// pkt-line is four hex digits of length, then "git-upload-pack ",
// "git-receive-pack " or "git-upload-archive " and the repository path.
func dissectGit(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 {
		return Exclude
	}
	n := 0
	for _, ch := range b[:4] {
		switch {
		case ch >= '0' && ch <= '9':
			n = n<<4 | int(ch-'0')
		case ch >= 'a' && ch <= 'f':
			n = n<<4 | int(ch-'a'+10)
		default:
			return Exclude
		}
	}
	if n < 8 || n > len(b) {
		return Exclude
	}
	rest := b[4:]
	if !hasPrefix(rest, "git-upload-pack ") && !hasPrefix(rest, "git-receive-pack ") && !hasPrefix(rest, "git-upload-archive ") {
		return Exclude
	}
	return lanDone(c, ProtoGit)
}
