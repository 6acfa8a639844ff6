package dpi

import (
	"fmt"
	"strings"
	"testing"
)

// Tests of the HTTP request spellings that hide the host from a DPI box
// while a server still reads it (zapret's hostcase, hostspell, hostdot,
// hosttab; GoodbyeDPI's -r -s -m; absolute-form targets; splits), each for
// a blocked and an allowed name.

func httpFlow(t *testing.T, segs ...string) *Flow {
	t.Helper()
	s := httpSim(t, "192.0.2.8:80")
	var f *Flow
	for _, p := range segs {
		f = s.send(ToServer, []byte(p))
	}
	return f
}

func TestHTTPHostSpellings(t *testing.T) {
	const ua = "User-Agent: Mozilla/5.0\r\n"
	spellings := []struct {
		name  string
		req   func(host string) string
		risky bool // the spelling is one only a decoy needs
	}{
		{"mixed-case field name", func(h string) string { return "GET / HTTP/1.1\r\nhOsT: " + h + "\r\n" + ua + "\r\n" }, false},
		{"no space", func(h string) string { return "GET / HTTP/1.1\r\nHost:" + h + "\r\n" + ua + "\r\n" }, false},
		{"extra spaces", func(h string) string { return "GET / HTTP/1.1\r\nHost:    " + h + "   \r\n" + ua + "\r\n" }, false},
		{"tabs", func(h string) string { return "GET / HTTP/1.1\r\nHost:\t" + h + "\t\r\n" + ua + "\r\n" }, false},
		{"trailing dot", func(h string) string { return "GET / HTTP/1.1\r\nHost: " + h + ".\r\n" + ua + "\r\n" }, false},
		{"upper-case name", func(h string) string {
			return "GET / HTTP/1.1\r\nHost: " + strings.ToUpper(h) + "\r\n" + ua + "\r\n"
		}, false},
		{"port", func(h string) string { return "GET / HTTP/1.1\r\nHost: " + h + ":80\r\n" + ua + "\r\n" }, false},
		{"dot and port", func(h string) string { return "GET / HTTP/1.1\r\nHost: " + h + ".:8080\r\n" + ua + "\r\n" }, false},
		{"bare LF", func(h string) string { return "GET / HTTP/1.1\nHost: " + h + "\n" + ua[:len(ua)-2] + "\n\n" }, false},
		{"Host last", func(h string) string { return "GET / HTTP/1.1\r\n" + ua + "Accept: */*\r\nHost: " + h + "\r\n\r\n" }, false},
		{"absolute-form, no Host", func(h string) string { return "GET http://" + h + "/ HTTP/1.1\r\n" + ua + "\r\n" }, false},
		{"absolute-form over a decoy Host", func(h string) string {
			return "GET http://" + h + "/ HTTP/1.1\r\nHost: decoy.example\r\n" + ua + "\r\n"
		}, true},
		{"absolute-form, other scheme and case", func(h string) string {
			return "GET HTTPS://" + strings.ToUpper(h) + ":443/x?y HTTP/1.1\r\nHost: " + h + "\r\n" + ua + "\r\n"
		}, false},
		{"absolute-form with userinfo", func(h string) string {
			return "GET http://decoy.example@" + h + "/ HTTP/1.1\r\n" + ua + "\r\n"
		}, false},
		{"folded Host value", func(h string) string { return "GET / HTTP/1.1\r\nHost:\r\n " + h + "\r\n" + ua + "\r\n" }, true},
		{"space before the colon, after a decoy", func(h string) string {
			return "GET / HTTP/1.1\r\nHost : decoy.example\r\nHost: " + h + "\r\n" + ua + "\r\n"
		}, true},
		{"space before the colon only", func(h string) string { return "GET / HTTP/1.1\r\nHost : " + h + "\r\n" + ua + "\r\n" }, true},
		{"CONNECT", func(h string) string {
			return "CONNECT " + h + ":443 HTTP/1.1\r\nHost: decoy.example:443\r\n" + ua + "\r\n"
		}, true},
	}
	for _, sp := range spellings {
		for _, host := range []string{"blocked.example", "allowed.example"} {
			req := sp.req(host)
			splits := map[string][]string{"one segment": {req}}
			i := strings.Index(strings.ToLower(req), host)
			splits["split inside the name"] = []string{req[:i+3], req[i+3:]}
			var bytes []string
			for j := range len(req) {
				bytes = append(bytes, req[j:j+1])
			}
			splits["1-byte segments"] = bytes
			for how, segs := range splits {
				t.Run(fmt.Sprintf("%s/%s/%s", sp.name, host, how), func(t *testing.T) {
					f := httpFlow(t, segs...)
					r := &f.Result
					if r.Hostname != host {
						t.Fatalf("%q: hostname %q (%s, %v)", req, r.Hostname, r.AppName(), r.State)
					}
					if got := r.Risks.Has(RiskHTTPSuspiciousHeader); got != sp.risky {
						t.Errorf("%q: suspicious header %v, want %v", req, got, sp.risky)
					}
				})
			}
		}
	}
}

// TestHTTPHostNearMisses: fields that are not Host, and values no server
// reads as a host, name nothing.
func TestHTTPHostNearMisses(t *testing.T) {
	for _, tc := range []struct{ req, want string }{
		{"GET / HTTP/1.1\r\nHostname: blocked.example\r\nHost: allowed.example\r\n\r\n", "allowed.example"},
		{"GET / HTTP/1.1\r\nX-Host: blocked.example\r\nHost: allowed.example\r\n\r\n", "allowed.example"},
		{"GET / HTTP/1.1\r\nX-Forwarded-Host: blocked.example\r\n\r\n", ""},
		{"GET //blocked.example/ HTTP/1.1\r\nHost: allowed.example\r\n\r\n", "allowed.example"}, // a path, not an authority
		{"GET /http://blocked.example/ HTTP/1.1\r\nHost: allowed.example\r\n\r\n", "allowed.example"},
		// A continuation line after a non-empty Host makes "a b", which no
		// server takes for a host: the first word stands.
		{"GET / HTTP/1.1\r\nHost: allowed.example\r\n blocked.example\r\n\r\n", "allowed.example"},
		// A continuation line after another field is that field's.
		{"GET / HTTP/1.1\r\nAccept: */*\r\n blocked.example\r\nHost: allowed.example\r\n\r\n", "allowed.example"},
	} {
		f := httpFlow(t, tc.req)
		if f.Result.Hostname != tc.want {
			t.Errorf("%q: hostname %q, want %q", tc.req, f.Result.Hostname, tc.want)
		}
	}
}

// TestHTTPDuplicateHostAndPipelining: two Host fields (a strict server
// answers 400) and a pipelined second request for another host are
// flagged; the flow is named by the first request's first Host.
func TestHTTPDuplicateHostAndPipelining(t *testing.T) {
	for _, tc := range []struct {
		req, want string
		risky     bool
	}{
		{"GET / HTTP/1.1\r\nHost: allowed.example\r\nHost: blocked.example\r\n\r\n", "allowed.example", true},
		{"GET / HTTP/1.1\r\nHost: blocked.example\r\nHost: allowed.example\r\n\r\n", "blocked.example", true},
		{"GET / HTTP/1.1\r\nHost: allowed.example\r\nUser-Agent: x/1\r\n\r\nGET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n", "allowed.example", true},
		{"GET / HTTP/1.1\r\nHost: blocked.example\r\nUser-Agent: x/1\r\n\r\nGET /b HTTP/1.1\r\nHost: BLOCKED.example\r\n\r\n", "blocked.example", false},
		{"GET / HTTP/1.1\r\nHost: allowed.example\r\nUser-Agent: x/1\r\n\r\nGET /b HTTP/1.1\r\nHost: allowed.example\r\n\r\n", "allowed.example", false},
	} {
		f := httpFlow(t, tc.req)
		r := &f.Result
		if r.Hostname != tc.want || r.Risks.Has(RiskHTTPSuspiciousHeader) != tc.risky {
			t.Errorf("%q: hostname %q, suspicious header %v; want %q, %v", tc.req, r.Hostname, r.Risks.Has(RiskHTTPSuspiciousHeader), tc.want, tc.risky)
		}
	}
}
