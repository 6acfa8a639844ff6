package httpmsg

import (
	"bytes"
	"net/netip"

	"ips/internal/ascii"
)

// HostName returns the host part of a Host field value or an authority
// ("example.com:8080" → "example.com", "[2001:db8::1]:80" →
// "2001:db8::1"), without a trailing dot.
func HostName(v []byte) []byte {
	// A host has no blanks or control bytes: whatever follows one is not
	// part of it.
	for i, c := range v {
		if c <= ' ' || c == 0x7f {
			v = v[:i]
			break
		}
	}
	if len(v) > 0 && v[0] == '[' {
		for i := 1; i < len(v); i++ {
			if v[i] == ']' {
				return v[1:i]
			}
		}
		return v[1:]
	}
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == ':' {
			if allDigits(v[i+1:]) {
				v = v[:i]
			}
			break
		}
		if !isDigit(v[i]) {
			break
		}
	}
	if len(v) > 1 && v[len(v)-1] == '.' {
		v = v[:len(v)-1]
	}
	return v
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// Authority returns the authority of an absolute-form request-target
// ("http://example.com:8080/x" → "example.com:8080"; RFC 9112 §3.2.2).
func Authority(target []byte) []byte {
	if !ascii.HasPrefix(target, "http://") {
		return nil
	}
	a := target[len("http://"):]
	for i, c := range a {
		if c == '/' || c == '?' || c == '#' {
			return a[:i]
		}
	}
	return a
}

// TargetHost returns the host an absolute-form request-target names, for
// any scheme ("foo://user@example.com:8080/x" → "example.com:8080"), nil
// for other forms. A server takes it over the Host field (RFC 9112
// §3.2.2; Go's net/http and nginx do, whatever the scheme), so it is the
// name the request is for. The userinfo before the last '@' is not part
// of the host (RFC 3986 §3.2).
func TargetHost(target []byte) []byte {
	// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1)
	i := 0
	for ; i < len(target); i++ {
		c := target[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.')) {
			break
		}
	}
	if i == 0 || len(target) < i+3 || string(target[i:i+3]) != "://" {
		return nil
	}
	a := target[i+3:]
	for j, c := range a {
		if c == '/' || c == '?' || c == '#' {
			a = a[:j]
			break
		}
	}
	if at := bytes.LastIndexByte(a, '@'); at >= 0 {
		a = a[at+1:]
	}
	return a
}

// NumericIPv4 parses a host that is a dotted-quad IPv4 address.
func NumericIPv4(host []byte) (netip.Addr, bool) {
	if len(host) < 7 || len(host) > 15 || !isDigit(host[0]) {
		return netip.Addr{}, false
	}
	var a [4]byte
	part, n, digits := 0, 0, 0
	for _, c := range host {
		switch {
		case isDigit(c):
			n = n*10 + int(c-'0')
			digits++
			if n > 255 || digits > 3 {
				return netip.Addr{}, false
			}
		case c == '.' && digits > 0 && part < 3:
			a[part] = byte(n)
			part, n, digits = part+1, 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if part != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	a[3] = byte(n)
	return netip.AddrFrom4(a), true
}

// ValidHost reports whether a Host value holds only what host names,
// address literals and ports are made of (RFC 3986 §3.2.2: letters,
// digits, '-', '.', ':' and brackets; '_' occurs in practice). Anything
// else (quotes, '%', spaces, control bytes) is not a host but an attempt
// to smuggle something through one.
func ValidHost(v []byte) bool {
	for _, c := range v {
		if !(hostByte(c) || c == '.' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

func hostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '-' || c == '_'
}

// UAFlags are the findings of CheckUserAgent.
type UAFlags uint8

const (
	// UASuspicious: the agent does not look like software identifying
	// itself: too short or too long, a random-looking word, script or
	// template syntax, or an odd URL scheme.
	UASuspicious UAFlags = 1 << iota
	// UACrawler: a crawler or bot announcing itself.
	UACrawler
	// UAExploit: a Log4Shell lookup ("jndi:ldap://…").
	UAExploit
)

// CheckUserAgent applies the user-agent heuristics nDPI uses, so risks
// agree with it:
//   - longer than 12 letters with no other character and ≥ 20 % upper
//     case: a random token, not a product name;
//   - starting with "<?", or holding '$', '{' or '}': template or script
//     syntax (Log4Shell probes look like "${jndi:…}");
//   - a "://" not preceded by http or https;
//   - shorter than 4 or longer than 256 bytes, or starting with "test";
//   - crawlers: "+http:", " http:", "crawler" or "bot" (any case).
func CheckUserAgent(ua []byte) UAFlags {
	if len(ua) == 0 {
		return 0
	}
	var f UAFlags
	if len(ua) > 12 {
		upper, i := 0, 0
		for ; i < len(ua); i++ {
			c := ua[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				break
			}
			if c <= 'Z' {
				upper++
			}
		}
		if i == len(ua) && upper*5 >= len(ua) {
			f |= UASuspicious
		}
	}
	if ascii.HasPrefix(ua, "<?") || indexByte(ua, '$') >= 0 {
		f |= UASuspicious
	}
	if i := index(ua, "://"); i > 0 && ua[i-1] != 'p' && ua[i-1] != 's' {
		f |= UASuspicious
	}
	switch {
	case ascii.HasPrefix(ua, "jndi:ldap://"):
		f |= UAExploit
	case len(ua) < 4, len(ua) > 256, string(ua[:min(4, len(ua))]) == "test",
		indexByte(ua, '{') >= 0, indexByte(ua, '}') >= 0:
		f |= UASuspicious
	}
	if index(ua, "+http:") >= 0 || index(ua, " http:") >= 0 || ascii.Contains(ua, "crawler") || ascii.Contains(ua, "bot") {
		f |= UACrawler
	}
	return f
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// index is bytes.Index for a short needle (the conversion of a needle
// under 32 bytes stays on the stack).
func index(b []byte, s string) int { return bytes.Index(b, []byte(s)) }

// ObsoleteServer reports a Server field naming a web server release
// series that its developers no longer maintain: Apache httpd before 2.4
// and nginx before 1.22 (https://endoflife.date). Only "name/x.y.z"
// versions are judged.
func ObsoleteServer(server []byte) bool {
	var minV [3]int
	switch {
	case ascii.HasPrefix(server, "apache/"):
		server, minV = server[len("apache/"):], [3]int{2, 4, 0}
	case ascii.HasPrefix(server, "nginx/"):
		server, minV = server[len("nginx/"):], [3]int{1, 22, 0}
	default:
		return false
	}
	var v [3]int
	part, digits := 0, 0
	for _, c := range server {
		if isDigit(c) {
			if v[part] > 1e6 {
				return false
			}
			v[part] = v[part]*10 + int(c-'0')
			digits++
			continue
		}
		if c != '.' || digits == 0 || part == 2 {
			break
		}
		part, digits = part+1, 0
	}
	if part < 2 || digits == 0 {
		return false // not a full x.y.z version
	}
	for i := range v {
		if v[i] != minV[i] {
			return v[i] < minV[i]
		}
	}
	return false
}

// MediaType returns the type/subtype of a Content-Type value, without
// parameters and blanks.
func MediaType(ct []byte) []byte {
	for i, c := range ct {
		if c == ';' {
			return trimBlanks(ct[:i])
		}
	}
	return trimBlanks(ct)
}

// ContentKind classifies a response's media type.
type ContentKind uint8

const (
	ContentOther ContentKind = iota
	// ContentExecutable: a program (Windows PE, cabinet, Java class).
	ContentExecutable
	// ContentBinary: opaque bytes (application/octet-stream).
	ContentBinary
	// ContentArchive: an archive or compressed file.
	ContentArchive
	// ContentMedia: audio or video.
	ContentMedia
	// ContentText: meant to be read as text (text/*, JSON, form data).
	ContentText
)

// Kind classifies a Content-Type value.
func Kind(ct []byte) ContentKind {
	mt := MediaType(ct)
	switch {
	case ascii.Equal(mt, "application/x-msdownload"), ascii.Equal(mt, "application/x-dosexec"),
		ascii.Equal(mt, "application/vnd.microsoft.portable-executable"),
		ascii.Equal(mt, "application/vnd.ms-cab-compressed"), ascii.Equal(mt, "application/java-vm"),
		ascii.Equal(mt, "application/x-msdos-program"), ascii.Equal(mt, "application/exe"):
		return ContentExecutable
	case ascii.Equal(mt, "application/octet-stream"):
		return ContentBinary
	case ascii.Equal(mt, "application/x-tar"), ascii.Equal(mt, "application/x-zip"),
		ascii.Equal(mt, "application/zip"), ascii.Equal(mt, "application/x-bzip"),
		ascii.Equal(mt, "application/x-bzip2"), ascii.Equal(mt, "application/gzip"),
		ascii.Equal(mt, "application/x-7z-compressed"), ascii.Equal(mt, "application/x-rar-compressed"):
		return ContentArchive
	case ascii.HasPrefix(mt, "audio/"), ascii.HasPrefix(mt, "video/"):
		return ContentMedia
	case ascii.HasPrefix(mt, "text/"), ascii.Contains(mt, "/json"), ascii.Contains(mt, "+json"),
		ascii.Equal(mt, "application/x-www-form-urlencoded"):
		return ContentText
	}
	return ContentOther
}

// Filename returns the filename parameter of a Content-Disposition value
// (RFC 6266 §4.1), unquoted, or nil.
func Filename(cd []byte) []byte {
	for i := indexFrom(cd, "filename", 0); i >= 0; i = indexFrom(cd, "filename", i+1) {
		rest := skipBlanks(cd[i+len("filename"):])
		if len(rest) > 0 && rest[0] == '*' {
			continue // filename*= (RFC 8187 encoding) — the plain form is enough
		}
		if len(rest) == 0 || rest[0] != '=' {
			continue
		}
		v := skipBlanks(rest[1:])
		if len(v) > 0 && v[0] == '"' {
			v = v[1:]
			if j := indexByte(v, '"'); j >= 0 {
				return v[:j]
			}
			return v
		}
		if j := indexByte(v, ';'); j >= 0 {
			v = v[:j]
		}
		return trimBlanks(v)
	}
	return nil
}

func indexFrom(b []byte, lower string, from int) int {
	for i := from; i+len(lower) <= len(b); i++ {
		if ascii.Equal(b[i:i+len(lower)], lower) {
			return i
		}
	}
	return -1
}

// ExecutableName reports a file name with a Windows program or installer
// extension.
func ExecutableName(name []byte) bool {
	for _, ext := range [...]string{".exe", ".msi", ".cab", ".scr", ".dll", ".bat", ".ps1", ".apk"} {
		if len(name) >= len(ext) && ascii.Equal(name[len(name)-len(ext):], ext) {
			return true
		}
	}
	return false
}

// ExecutableMagic reports a body that starts like a program: a Windows PE
// ("MZ"), ELF, Mach-O, a "#!/" script or an Android DEX file.
func ExecutableMagic(body []byte) bool {
	switch {
	case len(body) >= 2 && body[0] == 'M' && body[1] == 'Z':
		return true
	case len(body) >= 4 && string(body[:4]) == "\x7fELF":
		return true
	case len(body) >= 4 && (string(body[:4]) == "\xcf\xfa\xed\xfe" || string(body[:4]) == "\xce\xfa\xed\xfe"):
		return true
	case len(body) >= 3 && string(body[:3]) == "#!/":
		return true
	case len(body) >= 8 && string(body[:8]) == "dex\n035\x00":
		return true
	}
	return false
}

// TextLooksBinary reports a body declared as text whose first four bytes
// are not text (nor a gzip header): content smuggled under a text type.
func TextLooksBinary(body []byte) bool {
	if len(body) < 4 {
		return false
	}
	if string(body[:4]) == "\x1f\x8b\x08\x00" {
		return false
	}
	for _, c := range body[:4] {
		if !(c >= 0x20 && c < 0x7f || c == '\t' || c == '\r' || c == '\n') {
			return true
		}
	}
	return false
}

// SuspiciousField reports header names that malware check-ins use to
// report the infected machine (architecture, cores, memory, OS, root,
// UUID, …) and that no browser or common library sends.
func SuspiciousField(name []byte) bool {
	for _, s := range [...]string{"arch", "cores", "mem", "os", "osname", "osversion", "root", "s", "tls_version", "uuid", "x-hire-me"} {
		if ascii.Equal(name, s) {
			return true
		}
	}
	return false
}

// CredentialScheme reports an Authorization value whose scheme sends a
// reusable secret: Basic (RFC 7617, the password in base64) or Digest
// (RFC 7616, replayable against weak servers).
func CredentialScheme(v []byte) bool {
	return ascii.HasPrefix(v, "basic") || ascii.HasPrefix(v, "digest")
}
