package dpi

import "ips/internal/ascii"

// The clear-text mail protocols and FTP share a shape: a server greeting,
// then line-oriented client commands. Each dissector below recognises its
// greeting and commands, classifies early, and keeps watching (More) for
// what nDPI reports later in the session: credentials sent in clear
// (NDPI_CLEAR_TEXT_CREDENTIALS) and a switch to TLS (STARTTLS, STLS,
// AUTH TLS), after which the flow is named SMTPS, POPS, IMAPS or FTPS and
// the TLS dissector reads the handshake.

// Per-flow progress of the text protocols (lanState.smtp, .pop, .imap, .ftp).
const (
	txtGreeted  = 1 << iota // the server greeting was seen
	txtKnown                // classified
	txtStartTLS             // the client asked for TLS
	txtTLS                  // the server agreed: TLS follows
)

// line returns the first line of b without its line end.
func line(b []byte) []byte {
	if i := index(b, "\n"); i >= 0 {
		b = b[:i]
	}
	return trimSpace(b)
}

// replyCode reports whether b starts with a three-digit reply code
// followed by a space, a dash or the line end (RFC 5321 §4.2, RFC 959 §4.2).
func replyCode(b []byte, code string) bool {
	return len(b) >= 4 && string(b[:3]) == code && (b[3] == ' ' || b[3] == '-' || b[3] == '\r')
}

func anyReply(b []byte) bool {
	return len(b) >= 4 && b[0] >= '1' && b[0] <= '5' && b[1] >= '0' && b[1] <= '5' &&
		b[2] >= '0' && b[2] <= '9' && (b[3] == ' ' || b[3] == '-')
}

// dissectSMTP: RFC 5321. The greeting is "220", the client opens with
// EHLO or HELO. nDPI reports the server name of the greeting as the
// flow's hostname.
func dissectSMTP(c *Ctx) Status {
	st := &c.s.lan.smtp
	b := c.Payload
	if *st&txtTLS != 0 {
		return lanTLS(c, ProtoSMTPS, 0)
	}
	if c.Dir == ToClient {
		switch {
		case *st&txtStartTLS != 0 && replyCode(b, "220"):
			*st |= txtTLS
			c.Flow.Result.Master = ProtoSMTPS
			return More
		case *st&(txtGreeted|txtKnown) == 0 && replyCode(b, "220"):
			*st |= txtGreeted
			smtpServerName(c, b)
			if hasPort(c, 25) || hasPort(c, 587) || hasPort(c, 2525) {
				return smtpKnown(c)
			}
			return Continue
		case *st&txtKnown != 0:
			return More
		}
		if anyReply(b) && *st&txtGreeted == 0 && c.Payloads(ToClient) == 1 && c.Payloads(ToServer) == 0 {
			return Continue
		}
		return Exclude
	}
	switch {
	case ascii.HasPrefix(b, "ehlo ") || ascii.HasPrefix(b, "helo "):
		return smtpKnown(c)
	case *st&txtKnown == 0:
		if *st&txtGreeted != 0 || c.Payloads(ToServer) > 1 {
			return Exclude
		}
		return Continue
	case ascii.HasPrefix(b, "starttls"):
		*st |= txtStartTLS
	case ascii.HasPrefix(b, "auth plain"), ascii.HasPrefix(b, "auth login"):
		c.AddRisk(RiskClearTextCredentials)
	case ascii.HasPrefix(b, "mail from:"), ascii.HasPrefix(b, "data"):
		return Done // a plain session: nothing more to learn
	}
	return More
}

func smtpKnown(c *Ctx) Status {
	c.s.lan.smtp |= txtKnown
	lanSet(c, ProtoSMTP, 0)
	c.Pending(FieldApp | FieldRisks | FieldHostname)
	return More
}

// smtpServerName takes the domain of a "220 domain ESMTP ..." greeting.
func smtpServerName(c *Ctx, b []byte) {
	l := line(b)
	if len(l) < 5 {
		return
	}
	l = l[4:]
	end := 0
	for end < len(l) && l[end] != ' ' {
		end++
	}
	if name := l[:end]; len(name) > 2 && index(name, ".") > 0 && printable(name) {
		c.SetHostname(name)
	}
}

// dissectPOP3: RFC 1939. The greeting is "+OK"; commands are four
// letters. PASS (and APOP's clear user name) send credentials in clear;
// STLS (RFC 2595 §4) switches to TLS.
func dissectPOP3(c *Ctx) Status {
	st := &c.s.lan.pop
	b := c.Payload
	if *st&txtTLS != 0 {
		return lanTLS(c, ProtoPOPS, 0)
	}
	if c.Dir == ToClient {
		switch {
		case *st&txtStartTLS != 0 && hasPrefix(b, "+OK"):
			*st |= txtTLS
			c.Flow.Result.Master = ProtoPOPS
			return More
		case *st&(txtGreeted|txtKnown) == 0 && hasPrefix(b, "+OK"):
			*st |= txtGreeted
			if hasPort(c, 110) {
				return popKnown(c)
			}
			return Continue
		case *st&txtKnown != 0:
			return More
		}
		return Exclude
	}
	cmd := popCommand(b)
	switch {
	case *st&txtKnown == 0:
		if cmd && (*st&txtGreeted != 0 || hasPort(c, 110)) {
			popKnown(c)
			break
		}
		if *st&txtGreeted != 0 || c.Payloads(ToServer) > 1 {
			return Exclude
		}
		return Continue
	}
	switch {
	case ascii.HasPrefix(b, "stls"):
		*st |= txtStartTLS
	case ascii.HasPrefix(b, "pass "):
		c.AddRisk(RiskClearTextCredentials)
	case ascii.HasPrefix(b, "retr "), ascii.HasPrefix(b, "quit"):
		return Done
	}
	return More
}

func popKnown(c *Ctx) Status {
	c.s.lan.pop |= txtKnown
	lanSet(c, ProtoPOP3, 0)
	c.Pending(FieldApp | FieldRisks)
	return More
}

func popCommand(b []byte) bool {
	if len(b) < 4 || !isLetter(b[0]) {
		return false
	}
	for _, k := range [...]string{"user ", "pass ", "apop ", "capa", "stls", "auth", "stat", "list", "uidl", "retr ", "quit", "top ", "noop"} {
		if ascii.HasPrefix(b, k) {
			return true
		}
	}
	return false
}

// dissectIMAP: RFC 9051. The greeting is "* OK" (or "* PREAUTH"); client
// commands carry a tag. LOGIN sends credentials in clear; STARTTLS
// switches to TLS after the tagged OK.
func dissectIMAP(c *Ctx) Status {
	st := &c.s.lan.imap
	b := c.Payload
	if *st&txtTLS != 0 {
		return lanTLS(c, ProtoIMAPS, 0)
	}
	if c.Dir == ToClient {
		switch {
		case *st&txtStartTLS != 0 && imapTaggedOK(b):
			*st |= txtTLS
			c.Flow.Result.Master = ProtoIMAPS
			return More
		case *st&(txtGreeted|txtKnown) == 0 && (ascii.HasPrefix(b, "* ok") || ascii.HasPrefix(b, "* preauth")):
			*st |= txtGreeted
			if hasPort(c, 143) || ascii.Index(line(b), "imap") >= 0 {
				return imapKnown(c)
			}
			return Continue
		case *st&txtKnown != 0:
			return More
		}
		return Exclude
	}
	cmd := imapCommand(b)
	if *st&txtKnown == 0 {
		if cmd == "" || (*st&txtGreeted == 0 && !hasPort(c, 143)) {
			if *st&txtGreeted != 0 || c.Payloads(ToServer) > 1 {
				return Exclude
			}
			return Continue
		}
		imapKnown(c)
	}
	switch cmd {
	case "starttls":
		*st |= txtStartTLS
	case "login":
		c.AddRisk(RiskClearTextCredentials)
	case "select", "logout":
		return Done
	}
	return More
}

func imapKnown(c *Ctx) Status {
	c.s.lan.imap |= txtKnown
	lanSet(c, ProtoIMAP, 0)
	c.Pending(FieldApp | FieldRisks)
	return More
}

// imapCommand returns the (lower-case) command of a tagged client line
// ("a1 LOGIN ..."), or "" when b is not one.
func imapCommand(b []byte) string {
	i := 0
	for i < len(b) && i < 32 && b[i] > ' ' && b[i] < 0x7f {
		i++
	}
	if i == 0 || i >= len(b) || b[i] != ' ' {
		return ""
	}
	rest := b[i+1:]
	for _, k := range [...]string{"capability", "login", "authenticate", "starttls", "select", "examine",
		"list", "lsub", "logout", "noop", "id", "namespace", "status", "fetch", "uid", "idle", "enable"} {
		if ascii.HasPrefix(rest, k) && (len(rest) == len(k) || rest[len(k)] == ' ' || rest[len(k)] == '\r') {
			return k
		}
	}
	return ""
}

// imapTaggedOK reports whether b is a tagged OK ("a1 OK ...").
func imapTaggedOK(b []byte) bool {
	i := index(line(b), " ")
	return i > 0 && b[0] != '*' && ascii.HasPrefix(b[i+1:], "ok")
}

// dissectFTP: RFC 959. The greeting is "220"; commands are three or four
// letters. PASS sends the password in clear; AUTH TLS (RFC 4217 §4)
// answered by 234 switches to TLS, and nDPI names the flow FTPS.
func dissectFTP(c *Ctx) Status {
	st := &c.s.lan.ftp
	b := c.Payload
	if *st&txtTLS != 0 {
		return lanTLS(c, ProtoFTPS, 0)
	}
	if c.Dir == ToClient {
		switch {
		case *st&txtStartTLS != 0 && replyCode(b, "234"):
			*st |= txtTLS
			lanSet(c, ProtoFTPS, 0)
			return More
		case *st&(txtGreeted|txtKnown) == 0 && replyCode(b, "220"):
			*st |= txtGreeted
			if hasPort(c, 21) {
				return ftpKnown(c)
			}
			return Continue
		case *st&txtKnown != 0:
			ftpDataPort(c, b)
			return More
		}
		if anyReply(b) && c.Payloads(ToServer) == 0 && c.Payloads(ToClient) == 1 {
			return Continue
		}
		return Exclude
	}
	cmd := ftpCommand(b)
	if *st&txtKnown == 0 {
		if cmd == "" || (*st&txtGreeted == 0 && !hasPort(c, 21)) {
			if *st&txtGreeted != 0 || c.Payloads(ToServer) > 1 {
				return Exclude
			}
			return Continue
		}
		ftpKnown(c)
	}
	switch cmd {
	case "auth":
		if ascii.HasPrefix(b[5:], "tls") || ascii.HasPrefix(b[5:], "ssl") {
			*st |= txtStartTLS
		}
	case "pass":
		c.AddRisk(RiskClearTextCredentials)
	case "port", "eprt":
		ftpDataPort(c, b)
	}
	return More
}

func ftpKnown(c *Ctx) Status {
	c.s.lan.ftp |= txtKnown
	lanSet(c, ProtoFTPControl, 0)
	c.Pending(FieldApp | FieldRisks)
	return More
}

// ftpCommand returns the lower-case FTP command that starts b, or "".
func ftpCommand(b []byte) string {
	if len(b) < 3 || !isLetter(b[0]) {
		return ""
	}
	for _, k := range [...]string{"user", "pass", "auth", "feat", "syst", "pwd", "cwd", "type", "pasv", "epsv",
		"port", "eprt", "list", "nlst", "retr", "stor", "quit", "opts", "mlsd", "size", "mdtm", "pbsz", "prot", "rest", "noop", "acct"} {
		if ascii.HasPrefix(b, k) && (len(b) == len(k) || b[len(k)] == ' ' || b[len(k)] == '\r') {
			return k
		}
	}
	return ""
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
