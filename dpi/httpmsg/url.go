package httpmsg

import "ips/internal/ascii"

// Threat is a finding of CheckTarget: what a request-target tries to do
// to the server behind it.
type Threat uint8

const (
	// ThreatXSS: markup that runs script in a browser (a script-capable
	// tag, an on…= event handler, a javascript: URL).
	ThreatXSS Threat = 1 << iota
	// ThreatSQLi: text that closes an SQL literal and goes on with SQL
	// (a quote then OR/AND/a comment), UNION SELECT, stacked statements,
	// tautologies (1 OR 1=1) or timing functions (SLEEP(…)).
	ThreatSQLi
	// ThreatRCE: code for the server to run: a shell command after a
	// command separator, a shell path, PHP code, a JNDI lookup.
	ThreatRCE
	// ThreatTraversal: "../" path segments or well-known system files.
	ThreatTraversal
	// ThreatDotFile: a path that starts with a hidden file (/.env, /.git),
	// where secrets live. /.well-known/ (RFC 8615) is exempt.
	ThreatDotFile
)

// maxValue bounds the decoded bytes of one path or parameter that are
// examined; attacks fit well within it.
const maxValue = 1024

// CheckTarget looks for attacks in a request-target: the path, and each
// query parameter's value after percent-decoding (and '+' as a blank, as
// HTML forms encode them).
func CheckTarget(target []byte) Threat {
	var t Threat
	if a := Authority(target); a != nil {
		target = target[len("http://")+len(a):]
	}
	if index(target, "<php>") >= 0 {
		t |= ThreatRCE
	}
	path, query, hasQuery := target, []byte(nil), false
	if i := indexByte(target, '?'); i >= 0 {
		path, query, hasQuery = target[:i], target[i+1:], true
	}
	if len(path) >= 2 && path[0] == '/' && path[1] == '.' && !ascii.HasPrefix(path, "/.well-known/") {
		t |= ThreatDotFile
	}
	if hasQuery && ascii.Equal(path, "/shell") {
		t |= ThreatRCE // a web shell's command endpoint
	}
	var buf [maxValue]byte
	t |= checkPath(decode(buf[:0], path, false))
	for len(query) > 0 {
		var p []byte
		if i := indexByte(query, '&'); i >= 0 {
			p, query = query[:i], query[i+1:]
		} else {
			p, query = query, nil
		}
		if i := indexByte(p, '='); i >= 0 {
			p = p[i+1:]
		}
		if len(p) == 0 {
			continue
		}
		v := decode(buf[:0], p, true)
		t |= checkValue(v)
	}
	return t
}

// decode percent-decodes s into dst (bounded by its capacity) and folds
// ASCII to lower case, since every pattern below is case-insensitive.
func decode(dst, s []byte, form bool) []byte {
	for i := 0; i < len(s) && len(dst) < cap(dst); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		case c == '+' && form:
			c = ' '
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func checkPath(p []byte) Threat {
	var t Threat
	if traversal(p) {
		t |= ThreatTraversal
	}
	if xss(p) {
		t |= ThreatXSS
	}
	return t
}

func checkValue(v []byte) Threat {
	var t Threat
	if xss(v) {
		t |= ThreatXSS
	}
	if sqli(v) {
		t |= ThreatSQLi
	}
	if rce(v) {
		t |= ThreatRCE
	}
	if traversal(v) {
		t |= ThreatTraversal
	}
	return t
}

// traversal finds ".." as a whole path segment and paths of system files
// that only a directory traversal or file inclusion would ask for.
func traversal(v []byte) bool {
	for i := 0; i+1 < len(v); i++ {
		if v[i] != '.' || v[i+1] != '.' {
			continue
		}
		before := i == 0 || v[i-1] == '/' || v[i-1] == '\\'
		after := i+2 == len(v) || v[i+2] == '/' || v[i+2] == '\\'
		if before && after {
			return true
		}
	}
	for _, s := range [...]string{"/etc/passwd", "/etc/shadow", "win.ini", "boot.ini", "/proc/self/"} {
		if index(v, s) >= 0 {
			return true
		}
	}
	return false
}

// xss looks for markup that executes script.
func xss(v []byte) bool {
	s := skipSpace(v)
	if ascii.HasPrefix(s, "javascript:") || ascii.HasPrefix(s, "vbscript:") {
		return true
	}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '<':
			if xssTag(v[i+1:]) {
				return true
			}
		case '"', '\'':
			// Breaking out of an attribute: `" onmouseover=…`.
			if j := skipSpaceIndex(v, i+1); j > i+1 && eventHandler(v[j:]) {
				return true
			}
		}
	}
	return false
}

// xssTag examines the markup after a '<'.
func xssTag(v []byte) bool {
	if len(v) > 0 && v[0] == '/' {
		v = v[1:]
	}
	n := 0
	for n < len(v) && ('a' <= v[n] && v[n] <= 'z' || isDigit(v[n])) {
		n++
	}
	if n == 0 {
		return false
	}
	switch string(v[:n]) {
	case "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "meta":
		return true
	}
	// Any other tag runs script through its attributes.
	for i := n; i < len(v) && v[i] != '>'; i++ {
		c := v[i]
		if (c == ' ' || c == '\t' || c == '\n' || c == '/' || c == '"' || c == '\'') && eventHandler(v[i+1:]) {
			return true
		}
		if c == 'j' && ascii.HasPrefix(v[i:], "javascript:") || c == 'v' && ascii.HasPrefix(v[i:], "vbscript:") ||
			c == 'e' && ascii.HasPrefix(v[i:], "expression(") || c == 'd' && ascii.HasPrefix(v[i:], "data:text/html") {
			return true
		}
	}
	return false
}

// eventHandler matches an on…= attribute (onload=, onerror =, …).
func eventHandler(v []byte) bool {
	if len(v) < 4 || v[0] != 'o' || v[1] != 'n' {
		return false
	}
	i := 2
	for i < len(v) && 'a' <= v[i] && v[i] <= 'z' {
		i++
	}
	if i < 5 { // the shortest handlers are onload, onblur: 4 letters after "on"
		return false
	}
	i = skipSpaceIndex(v, i)
	return i < len(v) && v[i] == '='
}

func skipSpace(v []byte) []byte { return v[skipSpaceIndex(v, 0):] }

func skipSpaceIndex(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// SQL tokens for sqli.
type sqlTok uint8

const (
	tokNone sqlTok = iota
	tokWord
	tokNum
	tokQuote  // '
	tokDQuote // " or `
	tokOp
	tokComment
	tokSemi
	tokLParen
	tokOther
)

// sqli tokenises v the way an SQL lexer would and looks for the shapes
// injections take once they have left the literal they were put in.
func sqli(v []byte) bool {
	var (
		prev, cur         sqlTok
		prevWord, curWord []byte
		lastWord, befWord []byte // the last two words seen, for UNION [ALL] SELECT
		n                 int    // tokens so far
		lead              [4]sqlTok
		leadWord          []byte
	)
	for i := 0; i < len(v); {
		c := v[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case 'a' <= c && c <= 'z' || c == '_' || c == '@' || c == '$':
			for i < len(v) && sqlWordByte(v[i]) {
				i++
			}
			cur = tokWord
		case isDigit(c):
			for i < len(v) && (isDigit(v[i]) || v[i] == '.' || 'a' <= v[i] && v[i] <= 'f' || v[i] == 'x') {
				i++
			}
			cur = tokNum
		case c == '\'':
			i++
			cur = tokQuote
		case c == '"' || c == '`':
			i++
			cur = tokDQuote
		case c == '#':
			i = len(v)
			cur = tokComment
		case c == '-' && i+1 < len(v) && v[i+1] == '-', c == '/' && i+1 < len(v) && v[i+1] == '*':
			i += 2
			cur = tokComment
		case c == ';':
			i++
			cur = tokSemi
		case c == '(':
			i++
			cur = tokLParen
		case c == '=' || c == '<' || c == '>' || c == '!' || c == '|' || c == '&' || c == '^' || c == '~' || c == '+' || c == '-' || c == '*' || c == '/' || c == '%':
			for i < len(v) && (v[i] == '=' || v[i] == '<' || v[i] == '>' || v[i] == '!' || v[i] == '|' || v[i] == '&') {
				i++
			}
			if i == start {
				i++
			}
			cur = tokOp
		default:
			i++
			cur = tokOther
		}
		if cur == tokWord {
			curWord = v[start:i]
		} else {
			curWord = nil
		}
		switch {
		// 'x' OR …, 'x' AND …: the quote closed the literal early.
		case prev == tokQuote && cur == tokWord && sqlLogic(curWord):
			return true
		case prev == tokQuote && cur == tokOp && (string(v[start:i]) == "||" || string(v[start:i]) == "&&"):
			return true
		// 'x'-- , "x"#, 'x'; …: the rest of the statement is cut off or
		// a new one begins.
		case (prev == tokQuote || prev == tokDQuote) && (cur == tokComment || cur == tokSemi):
			return true
		// ; DROP …: a stacked statement.
		case prev == tokSemi && cur == tokWord && sqlStatement(curWord):
			return true
		// SLEEP(…), BENCHMARK(…): blind injection by timing.
		case prev == tokWord && cur == tokLParen && sqlTimingFunc(prevWord):
			return true
		case prev == tokWord && cur == tokWord && string(prevWord) == "waitfor" && string(curWord) == "delay":
			return true
		// UNION [ALL|DISTINCT] SELECT.
		case cur == tokWord && string(curWord) == "select" &&
			(string(lastWord) == "union" || (string(lastWord) == "all" || string(lastWord) == "distinct") && string(befWord) == "union"):
			return true
		}
		if n < len(lead) {
			lead[n] = cur
			if n == 1 {
				leadWord = curWord
			}
		}
		n++
		// 1 OR 1=1 at the start of a numeric parameter.
		if n == 4 && lead[0] == tokNum && lead[1] == tokWord && sqlLogic(leadWord) &&
			(lead[2] == tokNum || lead[2] == tokWord || lead[2] == tokQuote) && lead[3] == tokOp {
			return true
		}
		if cur == tokWord {
			befWord, lastWord = lastWord, curWord
		}
		prev, prevWord = cur, curWord
	}
	return false
}

func sqlWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || isDigit(c) || c == '_' || c == '@' || c == '$' || c == '.'
}

func sqlLogic(w []byte) bool {
	switch string(w) {
	case "or", "and", "xor", "union", "having", "order", "group", "like", "rlike", "regexp", "div", "is", "not":
		return true
	}
	return false
}

func sqlStatement(w []byte) bool {
	switch string(w) {
	case "select", "insert", "update", "delete", "drop", "create", "alter", "truncate", "exec",
		"execute", "declare", "shutdown", "grant", "union":
		return true
	}
	return false
}

func sqlTimingFunc(w []byte) bool {
	switch string(w) {
	case "sleep", "benchmark", "pg_sleep", "dbms_pipe.receive_message", "load_file", "extractvalue", "updatexml":
		return true
	}
	return false
}

// rce looks for commands for a shell or an interpreter.
func rce(v []byte) bool {
	for _, s := range [...]string{"<?php", "<php>", "${jndi:", "jndi:ldap:", "jndi:rmi:", "/bin/sh", "/bin/bash", "/bin/busybox", "cmd.exe", "powershell"} {
		if index(v, s) >= 0 {
			return true
		}
	}
	for i := 0; i < len(v); i++ {
		n := 0
		switch {
		case v[i] == ';', v[i] == '|', v[i] == '`', v[i] == '\n':
			n = 1
		case v[i] == '&' && i+1 < len(v) && v[i+1] == '&', v[i] == '$' && i+1 < len(v) && v[i+1] == '(':
			n = 2
		}
		if n > 0 && shellCommand(v[skipSpaceIndex(v, i+n):]) {
			return true
		}
	}
	return false
}

// shellCommand reports whether v starts with the name of a command an
// attacker runs first (to probe, download or open a shell), optionally
// with its directory, followed by the end of the word.
func shellCommand(v []byte) bool {
	for _, dir := range [...]string{"/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"} {
		if ascii.HasPrefix(v, dir) {
			v = v[len(dir):]
			break
		}
	}
	n := 0
	for n < len(v) && ('a' <= v[n] && v[n] <= 'z' || isDigit(v[n])) {
		n++
	}
	if n == 0 || n < len(v) && (v[n] == '.' || v[n] == '_' || v[n] == '-') {
		return false
	}
	switch string(v[:n]) {
	case "cat", "ls", "id", "whoami", "uname", "wget", "curl", "sh", "bash", "nc", "ncat", "netcat",
		"chmod", "rm", "echo", "python", "python3", "perl", "ping", "nslookup", "tftp", "busybox", "sleep", "ifconfig":
		return true
	}
	return false
}

// InfoHash extracts a BitTorrent tracker request's info_hash parameter:
// 20 bytes, percent-encoded where not plain characters (BEP 3).
func InfoHash(target []byte) (ih [20]byte, ok bool) {
	i := indexFrom(target, "info_hash=", 0)
	if i < 0 {
		return ih, false
	}
	v := target[i+len("info_hash="):]
	n := 0
	for j := 0; j < len(v) && v[j] != '&' && v[j] != ' '; j++ {
		c := v[j]
		if c == '%' {
			if j+2 >= len(v) || !isHex(v[j+1]) || !isHex(v[j+2]) {
				return ih, false
			}
			c = unhex(v[j+1])<<4 | unhex(v[j+2])
			j += 2
		}
		if n == len(ih) {
			return ih, false
		}
		ih[n] = c
		n++
	}
	return ih, n == len(ih)
}
