package dpi

// sshState is the SSH dissector's per-flow state: whose identification
// string has been seen.
type sshState struct {
	seen [2]bool
}

// maxSSHBanner is the longest identification string, CR LF included
// (RFC 4253 §4.2).
const maxSSHBanner = 255

// dissectSSH reads the identification strings both sides send first
// (RFC 4253 §4.2: "SSH-protoversion-softwareversion SP comments CR LF").
// It classifies on the first one and waits for the other side's, then has
// all there is to see in clear of the software at both ends.
func dissectSSH(c *Ctx) Status {
	s := &c.s.ssh
	classified := s.seen[0] || s.seen[1]
	if s.seen[c.Dir] {
		return sshStatus(c, s)
	}
	banner, ok := sshBanner(c.Payload, c.Dir == ToClient)
	if !ok {
		if classified {
			return Done // the other side does not speak SSH; nothing to wait for
		}
		return Exclude
	}
	s.seen[c.Dir] = true
	if !classified {
		c.Set(ProtoSSH, 0)
	}
	v := c.Intern(banner)
	m := c.Meta()
	if !classified {
		// nDPI reports the first identification string seen (whichever
		// side sent it) as the flow's server name; do the same so results
		// compare one to one.
		c.Flow.Result.Hostname = v
	}
	if c.Dir == ToServer {
		m.ClientBanner = v
		if sshObsolete(banner) {
			c.AddRisk(RiskSSHObsoleteClient)
		}
	} else {
		m.ServerBanner = v
		if sshObsolete(banner) {
			c.AddRisk(RiskSSHObsoleteServer)
		}
	}
	return sshStatus(c, s)
}

func sshStatus(c *Ctx, s *sshState) Status {
	switch {
	case s.seen[0] && s.seen[1]:
		return Done
	default:
		c.Pending(FieldRisks | FieldMeta)
	}
	return More
}

// sshBanner finds the identification string at the start of a side's
// stream. The server may send other lines before it (RFC 4253 §4.2);
// the client may not. A string without its line end (cut by the segment,
// or ended by a bare LF) is taken as far as it goes.
func sshBanner(b []byte, server bool) ([]byte, bool) {
	if !server && (len(b) < 4 || string(b[:4]) != "SSH-") {
		return nil, false // the common case on other protocols: no scan
	}
	for lines := 0; len(b) > 0 && lines < 16; lines++ {
		end := 0
		for end < len(b) && b[end] != '\n' {
			end++
		}
		line := b[:end]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if sshVersionLine(line) {
			return line[:min(len(line), maxSSHBanner-2)], true
		}
		if !server || end == len(b) {
			return nil, false
		}
		// A line before the identification must be text.
		for _, ch := range line {
			if ch < 0x20 && ch != '\t' || ch == 0x7f {
				return nil, false
			}
		}
		b = b[end+1:]
	}
	return nil, false
}

// sshVersionLine checks "SSH-" DIGITS "." DIGITS "-" and a software
// version of printable characters.
func sshVersionLine(l []byte) bool {
	if len(l) < 9 || string(l[:4]) != "SSH-" {
		return false
	}
	i := 4
	for d := 0; d < 2; d++ {
		j := i
		for j < len(l) && '0' <= l[j] && l[j] <= '9' {
			j++
		}
		if j == i || j == len(l) || d == 0 && l[j] != '.' || d == 1 && l[j] != '-' {
			return false
		}
		i = j + 1
	}
	if i == len(l) {
		return false
	}
	for _, ch := range l[i:] {
		if ch < 0x20 || ch > 0x7e {
			return false
		}
	}
	return true
}

// sshReleases are the oldest maintained releases of common SSH
// implementations, as nDPI judges them: older ones lack current key
// exchanges and ciphers, or have known flaws.
var sshReleases = [...]struct {
	prefix string
	min    [3]int
}{
	{"OpenSSH_", [3]int{7, 0, 0}},
	{"APACHE-SSHD-", [3]int{2, 5, 1}},
	{"FileZilla_", [3]int{3, 40, 0}},
	{"paramiko_", [3]int{2, 4, 0}},
	{"dropbear_", [3]int{2020, 0, 0}},
}

// sshObsolete reports an identification string of protocol version 1
// (broken; 1.99 means a 2.0 peer that also speaks 1) or of a release
// older than its implementation's oldest maintained one.
func sshObsolete(l []byte) bool {
	if len(l) < 8 || string(l[:4]) != "SSH-" {
		return false
	}
	if l[4] == '1' && string(l[4:8]) != "1.99" {
		return true
	}
	sw := l[4:]
	for i, ch := range sw {
		if ch == '-' {
			sw = sw[i+1:]
			break
		}
	}
	for _, r := range sshReleases {
		if len(sw) < len(r.prefix) || string(sw[:len(r.prefix)]) != r.prefix {
			continue
		}
		v, parts := sshVersion(sw[len(r.prefix):])
		if parts < 2 {
			return false
		}
		for i := range v {
			if v[i] != r.min[i] {
				return v[i] < r.min[i]
			}
		}
		return false
	}
	return false
}

// sshVersion reads up to three dot-separated numbers ("8.2p1" → 8, 2).
func sshVersion(b []byte) (v [3]int, parts int) {
	digits := 0
	for _, ch := range b {
		switch {
		case '0' <= ch && ch <= '9':
			if v[parts] > 1e6 {
				return v, 0
			}
			v[parts] = v[parts]*10 + int(ch-'0')
			digits++
			continue
		case ch == '.' && digits > 0 && parts < 2:
			parts++
			digits = 0
			continue
		}
		break
	}
	if digits > 0 {
		parts++
	}
	return v, parts
}
