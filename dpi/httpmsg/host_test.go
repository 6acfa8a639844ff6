package httpmsg

import "testing"

func TestTargetHost(t *testing.T) {
	for _, tc := range []struct{ target, want string }{
		{"http://example.com/a", "example.com"},
		{"HTTP://Example.COM:8080?x", "Example.COM:8080"},
		{"https://example.com", "example.com"},
		{"foo+bar.1-x://example.com#f", "example.com"},
		{"http://user:pw@evil@example.com/", "example.com"},
		{"http://[2001:db8::1]:80/", "[2001:db8::1]:80"},
		{"http://", ""},
		{"/a/b", "<nil>"},
		{"//example.com/", "<nil>"},       // a path (origin-form), not an authority
		{"1http://example.com/", "<nil>"}, // a scheme starts with a letter
		{"http:/example.com", "<nil>"},
		{"*", "<nil>"},
		{"", "<nil>"},
	} {
		got := TargetHost([]byte(tc.target))
		s := string(got)
		if got == nil {
			s = "<nil>"
		}
		if s != tc.want {
			t.Errorf("TargetHost(%q) = %q, want %q", tc.target, s, tc.want)
		}
	}
}

func TestRequestHostFields(t *testing.T) {
	for _, tc := range []struct {
		head        string
		host, loose string
		hosts       int
		folded      bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "a", "", 1, false},
		{"GET / HTTP/1.1\r\nhOsT:\ta \t\r\n\r\n", "a", "", 1, false},
		{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "a", "", 2, false},
		{"GET / HTTP/1.1\r\nHost:\r\n\t b \r\n\r\n", "b", "", 1, true},
		{"GET / HTTP/1.1\r\nHost:\r\n\r\n", "", "", 1, false},
		{"GET / HTTP/1.1\r\nHost : a\r\nHost: b\r\n\r\n", "b", "a", 1, false},
		{"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", "", "a", 0, false},
		{"GET / HTTP/1.1\r\n Host: a\r\n\r\n", "", "", 0, false}, // continuation of nothing
		{"GET / HTTP/1.1\r\nX: y\r\n a\r\n\r\n", "", "", 0, false},
		{"GET / HTTP/1.1\nHost: a\n\n", "a", "", 1, false},
		{"GET / HTTP/1.1\r\nHost: a", "", "", 0, false}, // truncated: the line is not whole
	} {
		var h Head
		ParseRequest([]byte(tc.head), &h)
		if string(h.Host) != tc.host || string(h.LooseHost) != tc.loose || h.Hosts != tc.hosts || h.HostFolded != tc.folded {
			t.Errorf("%q: Host %q loose %q hosts %d folded %v", tc.head, h.Host, h.LooseHost, h.Hosts, h.HostFolded)
		}
	}
}
