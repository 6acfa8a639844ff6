// Package httpmsg reads the head of HTTP/1.x messages (RFC 9112): the
// request line or status line and the header fields a detector wants, and
// offers small, explainable checks over them (attack patterns in URLs,
// suspicious user agents, obsolete servers, binary downloads).
//
// Nothing here allocates: every field is a slice of the caller's buffer,
// valid as long as that buffer is. Heads may arrive in pieces; the parser
// reads what is there and says whether the head is complete.
package httpmsg

import (
	"bytes"
	"strings"

	"ips/internal/ascii"
)

// Status says how far a head could be read.
type Status uint8

const (
	// NeedMore: the head is not complete (no empty line yet). What was
	// read is valid; parse the longer buffer again when more arrives.
	NeedMore Status = iota
	// Complete: the head was read through its empty line.
	Complete
	// Invalid: this is not the start of an HTTP/1.x message.
	Invalid
)

// Head is a parsed message head. Slices alias the parsed buffer.
type Head struct {
	// Request line (RFC 9112 §3): method, request-target, version.
	Method, Target []byte
	// Status line (RFC 9112 §4): version, status code, reason.
	StatusCode int
	Reason     []byte
	Version    []byte
	// LineComplete: the start line ended.
	LineComplete bool
	// Len is the length of the head through its empty line (Complete),
	// so the body starts at Len.
	Len int
	// Fields is the header section read so far (whole lines), for
	// iterating over all fields with NextField.
	Fields []byte

	// Values of the fields a detector wants (the first occurrence).
	Host, UserAgent, ContentType, Authorization, Server, ContentDisposition, Referer []byte
	// Hosts counts the Host fields (RFC 9112 §3.2: a server answers 400 to
	// more than one, so only the first can reach a server).
	Hosts int
	// HostFolded: the Host value came on a continuation line (obsolete
	// line folding, RFC 9112 §5.2, which Go's net/http still unfolds).
	HostFolded bool
	// LooseHost is the value of a "Host :" field, with blanks between the
	// name and the colon. RFC 9112 §5.1 has servers reject it (Go and
	// nginx answer 400), lenient ones read it as Host: it names the host
	// only when no proper Host field does.
	LooseHost []byte
	// HasUserAgent: a User-Agent field was present (perhaps empty).
	HasUserAgent bool
	// SOAPAction: the request carries SOAP's SOAPAction field.
	SOAPAction bool
}

// foldHost: the last field line read was a Host field with an empty
// value, which a continuation line may still supply.
type parseState struct{ foldHost bool }

func (h *Head) reset() { *h = Head{} }

// ParseRequest reads a request head at the start of b.
func ParseRequest(b []byte, h *Head) Status {
	h.reset()
	line, rest, ok := cutLine(b)
	if !ok {
		line = b
	}
	// method SP request-target SP HTTP-version; like many servers we
	// accept runs of blanks between the parts (RFC 9112 §3 allows it).
	m, r := cutWord(line)
	if len(m) == 0 || !isToken(m) {
		return Invalid
	}
	h.Method = m
	if len(r) == 0 && !ok {
		return NeedMore
	}
	if len(r) == 0 || !isBlank(r[0]) {
		return Invalid
	}
	t, r := cutWord(skipBlanks(r))
	h.Target = t
	if !ok {
		return NeedMore
	}
	v, r := cutWord(skipBlanks(r))
	// The version must be HTTP's, though not necessarily well formed:
	// broken clients exist, and the name alone tells HTTP from RTSP or
	// SIP, which share its methods.
	if len(t) == 0 || !ascii.HasPrefix(v, "http/") || len(skipBlanks(r)) != 0 {
		return Invalid
	}
	h.Version, h.LineComplete = v, true
	return h.fields(b, rest)
}

// ParseResponse reads a response head at the start of b.
func ParseResponse(b []byte, h *Head) Status {
	h.reset()
	line, rest, ok := cutLine(b)
	if !ok {
		line = b
	}
	v, r := cutWord(line)
	if !ok && len(r) == 0 {
		// Still inside the version, which must begin like "HTTP/1.x".
		if yes, partial := ResponsePrefix(v); partial || yes && len(v) < 8 || isVersion(v) {
			return NeedMore
		}
		return Invalid
	}
	if !isVersion(v) || len(r) == 0 || !isBlank(r[0]) {
		return Invalid
	}
	h.Version = v
	c, r := cutWord(skipBlanks(r))
	if !ok && len(r) == 0 && len(c) < 3 {
		return NeedMore
	}
	if len(c) != 3 || !isDigit(c[0]) || !isDigit(c[1]) || !isDigit(c[2]) {
		return Invalid
	}
	h.StatusCode = int(c[0]-'0')*100 + int(c[1]-'0')*10 + int(c[2]-'0')
	if !ok {
		return NeedMore
	}
	h.Reason = trimBlanks(r)
	h.LineComplete = true
	return h.fields(b, rest)
}

// fields reads header field lines from rest (a suffix of b) up to the
// empty line.
func (h *Head) fields(b, rest []byte) Status {
	start := len(b) - len(rest)
	var st parseState
	for {
		line, next, ok := cutLine(rest)
		if !ok {
			h.Fields = b[start : len(b)-len(rest)]
			return NeedMore
		}
		if len(line) == 0 {
			h.Fields = b[start : len(b)-len(rest)]
			h.Len = len(b) - len(next)
			return Complete
		}
		h.field(line, &st)
		rest = next
	}
}

func (h *Head) field(line []byte, st *parseState) {
	if len(line) > 0 && isBlank(line[0]) {
		// A continuation line (obs-fold): a server that unfolds it joins
		// it to the value before with a space, so an empty Host value
		// takes the continuation's.
		if v := trimBlanks(line); st.foldHost && len(v) > 0 {
			h.Host, h.HostFolded, st.foldHost = v, true, false
		}
		return
	}
	st.foldHost = false
	name, value, ok := splitField(line)
	if !ok {
		return
	}
	if loose := len(name) > 0 && line[len(name)] != ':'; loose {
		// Blanks before the colon: not a field a strict server reads.
		if ascii.Equal(name, "host") && h.LooseHost == nil {
			h.LooseHost = value
		}
		return
	}
	switch {
	case ascii.Equal(name, "host"):
		h.Hosts++
		if h.Host == nil {
			h.Host = value
			st.foldHost = len(value) == 0
		}
	case ascii.Equal(name, "user-agent"):
		if !h.HasUserAgent {
			h.UserAgent, h.HasUserAgent = value, true
		}
	case ascii.Equal(name, "content-type"):
		if h.ContentType == nil {
			h.ContentType = value
		}
	case ascii.Equal(name, "authorization"), ascii.Equal(name, "proxy-authorization"):
		if h.Authorization == nil {
			h.Authorization = value
		}
	case ascii.Equal(name, "server"):
		if h.Server == nil {
			h.Server = value
		}
	case ascii.Equal(name, "content-disposition"):
		if h.ContentDisposition == nil {
			h.ContentDisposition = value
		}
	case ascii.Equal(name, "referer"):
		if h.Referer == nil {
			h.Referer = value
		}
	case ascii.Equal(name, "soapaction"):
		h.SOAPAction = true
	}
}

// splitField splits "name: value" (RFC 9110 §5.1, RFC 9112 §5). Lines
// without a colon, or starting with a blank (obsolete line folding,
// RFC 9112 §5.2), are not fields of their own.
func splitField(line []byte) (name, value []byte, ok bool) {
	if len(line) == 0 || isBlank(line[0]) {
		return nil, nil, false
	}
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, false
	}
	return trimBlanks(line[:i]), trimBlanks(line[i+1:]), true
}

// NextField returns the first header field in fields and the rest, for
// iterating over Head.Fields:
//
//	for f := h.Fields; len(f) > 0; {
//		var name, value []byte
//		name, value, f = httpmsg.NextField(f)
//		…
//	}
//
// Lines that are not fields come back with a nil name.
func NextField(fields []byte) (name, value, rest []byte) {
	line, rest, ok := cutLine(fields)
	if !ok {
		line, rest = fields, nil
	}
	name, value, _ = splitField(line)
	return name, value, rest
}

// cutLine splits at the first line end: CRLF, or a bare LF, which RFC 9112
// §2.2 lets recipients accept.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, b, false
	}
	line = b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, b[i+1:], true
}

func cutWord(b []byte) (word, rest []byte) {
	for i, c := range b {
		if isBlank(c) {
			return b[:i], b[i:]
		}
	}
	return b, nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipBlanks(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	return b
}

func trimBlanks(b []byte) []byte {
	b = skipBlanks(b)
	for len(b) > 0 && isBlank(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// isVersion matches HTTP-version for HTTP/1.x: "HTTP/" DIGIT "." DIGIT
// (RFC 9112 §2.3); the name is case-sensitive but peers are lax about it.
func isVersion(v []byte) bool {
	return len(v) == 8 && ascii.Equal(v[:5], "http/") && v[5] == '1' && v[6] == '.' && isDigit(v[7])
}

// isToken checks the method's characters (RFC 9110 §5.6.2).
func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// Methods a client starts a request with: RFC 9110 §9, PATCH (RFC 5789),
// WebDAV (RFC 4918, 3253), and the RPC-over-HTTP verbs of Outlook
// Anywhere. A flow whose first bytes are one of them followed by a blank
// is worth reading as HTTP.
var methods = [...]string{
	"GET", "POST", "HEAD", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT",
	"SEARCH", "MKACTIVITY", "CHECKOUT", "MERGE", "RPC_IN_DATA", "RPC_OUT_DATA",
}

// MethodPrefix reports whether b starts like a request: a known method and
// a blank (Known), or a prefix of one too short to tell yet (Partial).
func MethodPrefix(b []byte) (known, partial bool) {
	for _, m := range methods {
		switch {
		case len(b) > len(m):
			if string(b[:len(m)]) == m && isBlank(b[len(m)]) {
				return true, false
			}
		case string(b) == m[:len(b)]:
			partial = true
		}
	}
	return false, partial
}

// ResponsePrefix reports whether b starts like a response ("HTTP/1."),
// or is a prefix of that too short to tell.
func ResponsePrefix(b []byte) (yes, partial bool) {
	const p = "HTTP/1."
	if len(b) >= len(p) {
		return ascii.Equal(b[:len(p)], "http/1."), false
	}
	return false, ascii.Equal(b, "http/1."[:len(b)])
}
