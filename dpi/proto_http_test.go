package dpi

import (
	"encoding/hex"
	"strings"
	"testing"
)

// HTTP/1.1 messages as RFC 9112 frames them: a start line (§3 request
// line, §4 status line), header field lines (§5), an empty line, a body.
const (
	httpGet = "GET /search?q=go HTTP/1.1\r\n" +
		"Host: www.google.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: */*\r\n\r\n"
	httpOK = "HTTP/1.1 200 OK\r\n" +
		"Server: gws\r\n" +
		"Content-Type: text/html; charset=UTF-8\r\n" +
		"Content-Length: 5\r\n\r\nhello"
)

func httpSim(t testing.TB, server string) *sim {
	return newSim(t, IPProtoTCP, "10.0.0.1:40000", server).handshake()
}

func TestHTTPRequestThenResponse(t *testing.T) {
	s := httpSim(t, "192.0.2.80:80")
	f := s.send(ToServer, []byte(httpGet))
	r := &f.Result
	if r.State != Partial || r.Master != ProtoHTTP || r.App != ProtoGoogle || r.Hostname != "www.google.com" {
		t.Fatalf("after the request: %v %v.%v %q", r.State, r.Master, r.App, r.Hostname)
	}
	if r.Pending != FieldRisks|FieldMeta {
		t.Errorf("pending %b: the application and host are known at the request", r.Pending)
	}
	if !strings.HasPrefix(r.UserAgent, "Mozilla/5.0") || r.Meta.Method != "GET" || r.Meta.URL != "/search?q=go" {
		t.Errorf("request metadata %q %+v", r.UserAgent, *r.Meta)
	}
	f = s.send(ToClient, []byte(httpOK))
	r = &f.Result
	if r.State != Classified || r.Meta.Status != 200 || r.Meta.Server != "gws" || r.Meta.ContentType != "text/html; charset=UTF-8" {
		t.Fatalf("after the response: %v %+v", r.State, *r.Meta)
	}
	if r.DPIPackets != 5 || r.Risks != 0 || r.Category != CategoryWeb {
		t.Errorf("dpi packets %d (want 3 handshake + 2), risks %v, category %v", r.DPIPackets, r.Risks.AppendNames(nil), r.Category)
	}
	if f.s != nil {
		t.Error("a classified flow kept its scratch")
	}
}

func TestHTTPRequestSplitOverThreeSegments(t *testing.T) {
	s := httpSim(t, "192.0.2.80:8080")
	parts := []string{
		"GET /index.ht",
		"ml HTTP/1.1\r\nHost: exam",
		"ple.org:8080\r\nUser-Agent: curl/8.5.0\r\n\r\n",
	}
	f := s.send(ToServer, []byte(parts[0]))
	if f.Result.State != Inspecting {
		t.Fatalf("half a request line classified: %+v", f.Result)
	}
	f = s.send(ToServer, []byte(parts[1]))
	if r := f.Result; r.State != Partial || r.Master != ProtoHTTP || r.Hostname != "" || r.Pending&FieldHostname == 0 {
		t.Fatalf("after the request line: %v %v %q pending %b", r.State, r.Master, r.Hostname, r.Pending)
	}
	f = s.send(ToServer, []byte(parts[2]))
	r := f.Result
	if r.Hostname != "example.org" || r.UserAgent != "curl/8.5.0" || r.Meta.URL != "/index.html" {
		t.Fatalf("after the head: %q %q %+v", r.Hostname, r.UserAgent, r.Meta)
	}
	if r.Pending&FieldHostname != 0 {
		t.Errorf("pending %b still lists the hostname", r.Pending)
	}
	f = s.send(ToClient, []byte("HTTP/1.0 200 OK\r\n"))
	if f.Result.State != Partial {
		t.Fatal("done before the response fields")
	}
	f = s.send(ToClient, []byte("Server: SimpleHTTP/0.6 Python/3.12.3\r\n\r\n"))
	if r := f.Result; r.State != Classified || r.Meta.Server != "SimpleHTTP/0.6 Python/3.12.3" || r.Meta.Status != 200 {
		t.Errorf("after the response: %v %+v", r.State, r.Meta)
	}
}

func TestHTTPResponseFirst(t *testing.T) {
	// The capture missed the request: the response alone says HTTP; the
	// next request still names the host and agent.
	s := httpSim(t, "192.0.2.80:80")
	f := s.send(ToClient, []byte(httpOK))
	r := &f.Result
	if r.State != Partial || r.Master != ProtoHTTP || !r.Risks.Has(RiskHTTPSuspiciousUserAgent) {
		t.Fatalf("response first: %v %v %v", r.State, r.Master, r.Risks.AppendNames(nil))
	}
	f = s.send(ToServer, []byte(httpGet))
	r = &f.Result
	if r.State != Classified || r.Hostname != "www.google.com" || r.Risks.Has(RiskHTTPSuspiciousUserAgent) {
		t.Errorf("then the request: %v %q %v", r.State, r.Hostname, r.Risks.AppendNames(nil))
	}
}

func TestHTTPMasters(t *testing.T) {
	for _, tc := range []struct {
		req, host string
		master    ProtoID
	}{
		{"CONNECT apache.org:443 HTTP/1.1\r\nHost: apache.org:443\r\nUser-Agent: curl/8\r\n\r\n", "apache.org", ProtoHTTPConnect},
		{"CONNECT [2001:db8::1]:443 HTTP/1.1\r\nUser-Agent: curl/8\r\n\r\n", "2001:db8::1", ProtoHTTPConnect},
		{"GET http://example.com/a HTTP/1.1\r\nUser-Agent: curl/8\r\n\r\n", "example.com", ProtoHTTPProxy},
		{"PROPFIND /dav/ HTTP/1.1\r\nHost: files.example\r\nUser-Agent: davfs2\r\n\r\n", "files.example", ProtoHTTP},
	} {
		s := httpSim(t, "192.0.2.8:3128")
		f := s.send(ToServer, []byte(tc.req))
		if f.Result.Master != tc.master || f.Result.Hostname != tc.host {
			t.Errorf("%q: %v %q", tc.req, f.Result.Master, f.Result.Hostname)
		}
	}
}

func TestHTTPApplications(t *testing.T) {
	infoHash := "%124Vx%9a%bc%de%f0%124Vx%9a%bc%de%f0%124Vx"
	for _, tc := range []struct {
		name, req string
		app       ProtoID
	}{
		{"tracker", "GET /announce?info_hash=" + infoHash + "&peer_id=-qB4650-abcdefghijkl&port=6881 HTTP/1.1\r\nHost: tracker.example:6969\r\nUser-Agent: qBittorrent/4.6.5\r\n\r\n", ProtoBitTorrent},
		{"gnutella", "GET /uri-res/N2R?urn:sha1:LXIP2A72T5H3BU3GRUMZFYNU3OYDK6FI HTTP/1.1\r\nHost: 198.51.100.9:46906\r\nUser-Agent: gtk-gnutella/1.2.2\r\n\r\n", ProtoGnutella},
		{"ipp", "POST /ipp/print HTTP/1.1\r\nHost: printer.local:631\r\nContent-Type: application/ipp\r\nUser-Agent: CUPS/2.4\r\n\r\n", ProtoIPP},
		{"soap", "POST /Service HTTP/1.1\r\nSOAPAction: \"urn:x\"\r\nContent-Type: text/xml\r\nHost: svc.example\r\nUser-Agent: Jakarta Commons-HttpClient/3.0.1\r\n\r\n", ProtoSOAP},
		{"ocsp", "POST / HTTP/1.1\r\nHost: ocsp.example\r\nContent-Type: application/ocsp-request\r\nUser-Agent: Microsoft-CryptoAPI/10.0\r\n\r\n", ProtoOCSP},
		{"windows update", "GET /c/msdownload/update/x.cab HTTP/1.1\r\nHost: 198.51.100.1\r\nUser-Agent: Microsoft-Delivery-Optimization/10.0\r\n\r\n", ProtoWindowsUpdate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := httpSim(t, "198.51.100.9:80")
			f := s.send(ToServer, []byte(tc.req))
			if f.Result.Master != ProtoHTTP || f.Result.App != tc.app {
				t.Errorf("got %v.%v", f.Result.Master, f.Result.App)
			}
			if tc.app == ProtoBitTorrent {
				m := f.Result.Meta
				if want := "123456789abcdef0123456789abcdef012345678"; !m.HasInfoHash || hex.EncodeToString(m.InfoHash[:]) != want {
					t.Errorf("info hash %x", m.InfoHash)
				}
			}
		})
	}
}

func TestHTTPRisks(t *testing.T) {
	const ua = "User-Agent: curl/8.5.0\r\n"
	for _, tc := range []struct {
		name      string
		req, resp string
		want      []RiskID
		notWant   []RiskID
		category  CategoryID
	}{
		{"clean", "GET / HTTP/1.1\r\nHost: example.com\r\n" + ua + "\r\n", httpOK, nil,
			[]RiskID{RiskHTTPSuspiciousUserAgent, RiskNumericIPHost, RiskErrorCodeDetected}, CategoryWeb},
		{"numeric host, not the server", "GET / HTTP/1.1\r\nHost: 205.174.165.68\r\n" + ua + "\r\n", httpOK,
			[]RiskID{RiskNumericIPHost, RiskHTTPSuspiciousHeader}, nil, 0},
		{"numeric host, the server", "GET / HTTP/1.1\r\nHost: 192.0.2.80\r\n" + ua + "\r\n", httpOK,
			[]RiskID{RiskNumericIPHost}, []RiskID{RiskHTTPSuspiciousHeader}, 0},
		{"no user agent", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", httpOK,
			[]RiskID{RiskHTTPSuspiciousUserAgent}, nil, 0},
		{"random user agent", "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: pwtyyEKzNtGatwnJjmCcBLbOveCVpc\r\n\r\n", httpOK,
			[]RiskID{RiskHTTPSuspiciousUserAgent}, nil, 0},
		{"crawler", "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)\r\n\r\n", httpOK,
			[]RiskID{RiskHTTPCrawlerBot}, []RiskID{RiskHTTPSuspiciousUserAgent}, 0},
		{"sql injection", "GET /dv/sqli/?id=1%27+and+1%3D1%23&Submit=Submit HTTP/1.1\r\nHost: example.com\r\n" + ua + "\r\n", httpOK,
			[]RiskID{RiskURLPossibleSQLInjection}, []RiskID{RiskURLPossibleXSS}, 0},
		{"xss", "GET /s?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E HTTP/1.1\r\nHost: example.com\r\n" + ua + "\r\n", httpOK,
			[]RiskID{RiskURLPossibleXSS}, nil, 0},
		{"rce", "GET /ping?ip=1.1.1.1;cat%20/etc/passwd HTTP/1.1\r\nHost: example.com\r\n" + ua + "\r\n", httpOK,
			[]RiskID{RiskURLPossibleRCEInjection, RiskHTTPSuspiciousURL}, nil, 0},
		{"dot file and error", "GET /.env HTTP/1.1\r\nHost: example.com\r\n" + ua + "\r\n", "HTTP/1.1 404 Not Found\r\nServer: nginx/1.25.3\r\n\r\n",
			[]RiskID{RiskPossibleExploit, RiskErrorCodeDetected}, []RiskID{RiskHTTPObsoleteServer}, 0},
		{"basic auth", "GET /admin HTTP/1.1\r\nHost: example.com\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n" + ua + "\r\n", httpOK,
			[]RiskID{RiskClearTextCredentials}, nil, 0},
		{"bearer auth", "GET /api HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer eyJhbGciOi\r\n" + ua + "\r\n", httpOK,
			nil, []RiskID{RiskClearTextCredentials}, 0},
		{"malware check-in fields", "POST /gate.php HTTP/1.1\r\nHost: example.com\r\nOsversion: 10.0\r\nUuid: 1234\r\n" + ua + "\r\n", httpOK,
			[]RiskID{RiskHTTPSuspiciousHeader}, nil, 0},
		{"invalid host", "POST /x HTTP/1.1\r\nHost: %s\r\n" + ua + "\r\n", httpOK,
			[]RiskID{RiskInvalidCharacters, RiskPossibleExploit}, nil, 0},
		{"obsolete server", "GET / HTTP/1.1\r\nHost: example.com\r\n" + ua + "\r\n", "HTTP/1.1 200 OK\r\nServer: Apache/2.2.22 (Ubuntu)\r\n\r\n",
			[]RiskID{RiskHTTPObsoleteServer}, nil, 0},
		{"program by type", "GET /f HTTP/1.1\r\nHost: example.com\r\n" + ua + "\r\n", "HTTP/1.1 200 OK\r\nContent-Type: application/x-dosexec\r\n\r\n",
			[]RiskID{RiskBinaryAppTransfer}, nil, CategoryDownload},
		{"program by name", "GET /solar.php HTTP/1.1\r\nHost: example.com\r\n" + ua + "\r\n",
			"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"phn34ycjtghm.exe\"\r\n\r\n",
			[]RiskID{RiskBinaryAppTransfer, RiskBinaryDataTransfer}, nil, CategoryDownload},
		{"program by content", "GET /f.bin HTTP/1.1\r\nHost: example.com\r\n" + ua + "\r\n", "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\nMZ\x90\x00\x03\x00",
			[]RiskID{RiskBinaryAppTransfer}, nil, 0},
		{"windows update programs", "GET /f HTTP/1.1\r\nHost: au.download.windowsupdate.com\r\n" + ua + "\r\n", "HTTP/1.1 200 OK\r\nContent-Type: application/x-msdownload\r\n\r\n",
			nil, []RiskID{RiskBinaryAppTransfer}, CategoryDownload},
		{"binary under text", "GET / HTTP/1.1\r\nHost: example.com\r\n" + ua + "\r\n", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n\x00\x01\x02\x03\x04",
			[]RiskID{RiskHTTPSuspiciousContent}, nil, 0},
		{"media", "GET /a.mp3 HTTP/1.1\r\nHost: example.com\r\n" + ua + "\r\n", "HTTP/1.1 206 Partial Content\r\nContent-Type: audio/mpeg\r\n\r\n",
			nil, nil, CategoryMedia},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := httpSim(t, "192.0.2.80:80")
			s.send(ToServer, []byte(tc.req))
			f := s.send(ToClient, []byte(tc.resp))
			r := f.Result
			if r.State != Classified {
				t.Fatalf("state %v", r.State)
			}
			for _, id := range tc.want {
				if !r.Risks.Has(id) {
					t.Errorf("missing %v (have %v)", riskTable[id].name, r.Risks.AppendNames(nil))
				}
			}
			for _, id := range tc.notWant {
				if r.Risks.Has(id) {
					t.Errorf("unexpected %v", riskTable[id].name)
				}
			}
			if tc.category != 0 && r.Category != tc.category {
				t.Errorf("category %v, want %v", r.Category, tc.category)
			}
		})
	}
}

func TestHTTPNotHTTP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dir     Dir
		payload string
	}{
		{"tls", ToServer, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"},
		{"ssh", ToClient, "SSH-2.0-OpenSSH_9.6\r\n"},
		{"rtsp", ToServer, "OPTIONS rtsp://cam.example/stream RTSP/1.0\r\nCSeq: 1\r\n\r\n"},
		{"sip", ToServer, "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n"},
		{"smtp", ToClient, "220 mail.example.com ESMTP Postfix\r\n"},
		{"lower-case method", ToServer, "get / HTTP/1.1\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := httpSim(t, "192.0.2.80:80")
			f := s.send(tc.dir, []byte(tc.payload))
			if m := f.Result.Master; m == ProtoHTTP || m == ProtoHTTPConnect || m == ProtoHTTPProxy {
				t.Errorf("classified %v", m)
			}
			if f.s != nil && f.s.excluded[0]&(1<<httpDissectorIndex(t)) == 0 {
				t.Error("HTTP not excluded")
			}
		})
	}
}

func httpDissectorIndex(t *testing.T) int {
	for i := range dissectors {
		if dissectors[i].name == "HTTP" {
			return i
		}
	}
	t.Fatal("no HTTP dissector")
	return 0
}
