package dpi

import "bytes"

// MGCP (RFC 3435 §3.2.1): a command line "VERB transaction-id
// endpoint@domain MGCP 1.0" ending with CRLF or LF. The endpoint's domain
// names the media gateway and is kept as the flow's hostname.
var mgcpVerbs = [...]string{"AUEP ", "AUCX ", "CRCX ", "DLCX ", "EPCF ", "MDCX ", "NTFY ", "RQNT ", "RSIP ", "MESG "}

func dissectMGCP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 8 || b[len(b)-1] != '\n' {
		return Exclude
	}
	verb := false
	for _, v := range mgcpVerbs {
		verb = verb || string(b[:5]) == v
	}
	if !verb {
		return Exclude
	}
	line := b
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	if bytes.Index(line[4:], []byte("MGCP ")) < 0 {
		return Exclude
	}
	c.Set(ProtoMGCP, 0)
	// Third field: the endpoint name, local@domain.
	if ep := mgcpField(line, 2); ep != nil {
		if at := bytes.LastIndexByte(ep, '@'); at >= 0 && at+1 < len(ep) && c.Flow.Result.Hostname == "" {
			c.Flow.Result.Hostname = c.e.intern.lower(ep[at+1:])
		}
	}
	return Done
}

// mgcpField returns the n-th space-separated field of line.
func mgcpField(line []byte, n int) []byte {
	for i := 0; ; i++ {
		for len(line) > 0 && line[0] == ' ' {
			line = line[1:]
		}
		if len(line) == 0 {
			return nil
		}
		end := bytes.IndexByte(line, ' ')
		if end < 0 {
			end = len(line)
		}
		if i == n {
			return bytes.TrimRight(line[:end], "\r")
		}
		line = line[end:]
	}
}
