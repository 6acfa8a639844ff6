package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// want is one expected diagnostic: on line `line`, at the first
// occurrence of `at` in that line (column 0 when at is empty).
type want struct {
	line int
	at   string
	msg  string // the message, "warning: …" for a warning
}

func (w want) render(text, file string) string {
	if w.line < 0 {
		return w.msg
	}
	if w.line == 0 {
		return file + ": " + w.msg
	}
	lines := strings.Split(text, "\n")
	col := 1
	if w.at != "" {
		i := strings.Index(lines[w.line-1], w.at)
		if i < 0 {
			panic(fmt.Sprintf("%q not on line %d", w.at, w.line))
		}
		col = utf8.RuneCountInString(lines[w.line-1][:i]) + 1
	}
	return fmt.Sprintf("%s:%d:%d: %s", file, w.line, col, w.msg)
}

func TestValidationErrors(t *testing.T) {
	loc, _ := sampleGeo(t)
	cases := []struct {
		name  string
		text  string
		opt   LoadOptions
		files map[string]string
		want  []want
	}{
		{"misspelt protocol", `{"policy":{"id":0,"markers":{"protocols":{"Youtbe":"drop","bittorent":"drop","Facebook Messenger":"drop"}}}}`, LoadOptions{}, nil, []want{
			{1, `"Youtbe"`, `unknown protocol "Youtbe" (did you mean "YouTube"?)`},
			{1, `"bittorent"`, `unknown protocol "bittorent" (did you mean "BitTorrent"?)`},
			{1, `"Facebook Messenger"`, `unknown protocol "Facebook Messenger" (did you mean "FacebookMessenger"?)`},
		}},
		{"misspelt master.app", `{"policy":{"id":0,"markers":{"protocols":{"TLS.Youtub":"drop"}}}}`, LoadOptions{}, nil, []want{
			{1, `"TLS.`, `unknown protocol "Youtub" in "TLS.Youtub" (did you mean "YouTube"?)`},
		}},
		{"protocol id that is a port", `{"policy":{"id":0,"markers":{"protocols":{"443":"drop","53":"pass","5":"pass"}}}}`, LoadOptions{}, nil, []want{
			{1, `"443"`, `unknown protocol id 443 (port 443 is TLS: write "TLS")`},
			{1, `"53"`, `warning: protocol key "53" is nDPI protocol 53 (CPHA), not port 53 (DNS, which is protocol 5); write "DNS" if you meant DNS`},
		}},
		{"misspelt category", `{"policy":{"id":0,"markers":{"categories":{"Vidoe":"drop","SocialNetwrok":"drop","Messaging":"drop"}}}}`, LoadOptions{}, nil, []want{
			{1, `"Vidoe"`, `unknown category "Vidoe" (did you mean "Video"?)`},
			{1, `"SocialNetwrok"`, `unknown category "SocialNetwrok" (did you mean "SocialNetwork"?)`},
		}},
		{"misspelt country and continent", `{"policy":{"id":0,"markers":{"countries":{"Itlay":"drop","ZZ":"drop","UK":"drop"},"continents":{"Eurpoe":"drop","Asia-Pacific":"drop","Atlantis":"drop"}}}}`, LoadOptions{GeoIP: loc}, nil, []want{
			{1, `"Itlay"`, `unknown country "Itlay" (did you mean "Italy"?)`},
			{1, `"ZZ"`, `unknown country "ZZ"`},
			{1, `"Eurpoe"`, `unknown continent "Eurpoe" (did you mean "Europe"?)`},
			{1, `"Atlantis"`, `unknown continent "Atlantis"`},
		}},
		{"misspelt risk", `{"policy":{"id":0,"flow_risk":{"risks":["TLS_OBSOLETE_VERSON", 0, 99, "Self-signed Certs"],"marker":"drop"}}}`, LoadOptions{}, nil, []want{
			{1, `"TLS_OBSOLETE_VERSON"`, `unknown flow risk "TLS_OBSOLETE_VERSON" (did you mean "TLS_OBSOLETE_VERSION"?)`},
			{1, `0, 99`, `flow risk 0 is NDPI_NO_RISK and matches nothing`},
			{1, `99`, `unknown flow risk "99"`},
			{1, `"Self-signed Certs"`, `unknown flow risk "Self-signed Certs" (did you mean "Self-signed Cert"?)`},
		}},
		{"misspelt marker", `{"policy":{"id":0,"default_marker":"drpo","markers":{"protocols":{"TLS":"shape:slow","HTTP":0}}}}`, LoadOptions{}, nil, []want{
			{1, `"drpo"`, `unknown marker "drpo" (want pass, drop, reject, shape:NAME or a number) (did you mean "drop"?)`},
			{1, `"shape:slow"`, `marker "shape:slow": no shaper "slow" is defined (add it to "shapers")`},
			{1, `0}`, `marker 0 means "no verdict yet" to nProbe; write "pass" (or 1)`},
		}},
		{"marker outside the mark layout", "{\"policy\":{\"id\":0,\"default_marker\":97}}\n{\"policy\":{\"id\":1,\"root\":0,\"default_marker\":15}}", LoadOptions{}, nil, []want{
			{1, `97`, `marker 97 does not fit the mark layout: mask 0x00ff0000 carries classes 1–15 (widen the mark mask or use a smaller number)`},
			{2, `1,"root"`, `warning: policy 1 is used by no pool (and is not policy 0)`},
		}},
		{"cycle", "{\"policy\":{\"id\":0}}\n{\"policy\":{\"id\":1,\"root\":2}}\n{\"policy\":{\"id\":2,\"root\":1}}\n{\"policy\":{\"id\":3,\"root\":3}}", LoadOptions{}, nil, []want{
			{2, `2}`, `policies 1 → 2 → 1 form a cycle`},
			{4, `3}}`, `policy 3 is its own root`},
		}},
		{"missing parent and duplicate policy", "{\"policy\":{\"id\":0}}\n{\"policy\":{\"id\":1,\"root\":7}}\n{\"policy\":{\"id\":0}}", LoadOptions{}, nil, []want{
			{2, `7`, `root 7 of policy 1 is not defined`},
			{3, `0}`, `policy 0 is defined twice (first at 1:17)`},
		}},
		{"pools", `{"policy":{"id":0}}
{"pool":{"id":1,"name":"a","ip":["10.0.0.0/8","10.1.0.0/16","10.1.0.0/16","300.1.1.1","fe80::1%eth0"],"mac":["aa:bb:cc:dd:ee:ff","aa:bb:cc:dd:ee"]},"policy":{"id":0}}
{"pool":{"id":2,"name":"b","ip":["10.0.0.1/8"],"mac":["AA-BB-CC-DD-EE-FF"]},"policy":{"id":9}}
{"pool":{"id":2,"name":"c","ip":[]},"policy":{"id":0}}`, LoadOptions{}, nil, []want{
			{2, `"10.1.0.0/16","300`, `warning: pool a lists 10.1.0.0/16 twice (also at 2:47)`},
			{2, `"300.1.1.1"`, `pool a: bad address "300.1.1.1"`},
			{2, `"fe80::1%eth0"`, `pool a: bad address "fe80::1%eth0": zones are not allowed`},
			{2, `"aa:bb:cc:dd:ee"]`, `pool a: bad MAC address "aa:bb:cc:dd:ee": want six hex octets such as aa:bb:cc:dd:ee:ff`},
			{3, `"10.0.0.1/8"`, `10.0.0.0/8 is in pool b and in pool a (at 2:34): a host must belong to one pool`},
			{3, `"AA-BB`, `aa:bb:cc:dd:ee:ff is in pool b and in pool a (at 2:110): a host must belong to one pool`},
			{3, `9}`, `pool b uses policy 9, which is not defined`},
			{4, `2,`, `pool 2 is defined twice (first at 3:15)`},
			{4, `{"id":2`, `warning: pool c has no addresses or MACs; it matches no host`},
		}},
		{"hostnames and ASNs", `{"policy":{"id":0,"markers":{"hostnames":{"www.*.com":"drop","ok.example.":"drop","bad host":"drop"},"asn":{"AS15169":"drop","x1":"drop"}}}}`, LoadOptions{GeoIPASN: func() string { _, a := sampleGeo(t); return a }()}, nil, []want{
			{1, `"www.*.com"`, `hostname "www.*.com": '*' is only allowed as "*." at the start`},
			{1, `"bad host"`, `hostname "bad host": character ' ' not allowed in a hostname`},
			{1, `"x1"`, `bad AS number "x1": want a number such as "15169" or "AS15169"`},
		}},
		{"flow_risk problems", "{\"policy\":{\"id\":0,\"flow_risk\":{\"risks\":[12]}}}\n{\"policy\":{\"id\":1,\"root\":0,\"flow_risk\":{\"bitmap\":\"x\",\"marker\":\"drop\",\"risk_score\":-5}}}", LoadOptions{}, nil, []want{
			{1, `{"risks"`, `flow_risk has risks but no "marker"`},
			{2, `"x"`, `flow_risk.bitmap: want an unsigned 64-bit number, not "x"`},
			{2, `-5`, `flow_risk.risk_score must be positive, not -5`},
			{2, `1,"root"`, `warning: policy 1 is used by no pool (and is not policy 0)`},
		}},
		{"GeoIP needed", `{"policy":{"id":0,"markers":{"countries":{"CN":"drop"},"asn":{"15169":"drop"}}}}`, LoadOptions{}, nil, []want{
			{1, `"CN"`, `countries and continents need a GeoIP City or Country database: add {"geoip": {"city": FILE}} or run with --geoip FILE`},
			{1, `"15169"`, `AS numbers need a GeoIP ASN database: add {"geoip": {"asn": FILE}} or run with --geoip-asn FILE`},
		}},
		{"GeoIP unreadable", "{\"geoip\":{\"city\":\"missing.mmdb\"}}\n{\"policy\":{\"id\":0,\"markers\":{\"countries\":{\"CN\":\"drop\"}}}}", LoadOptions{}, nil, []want{
			{1, `"missing.mmdb"`, `geoip: open DIR/missing.mmdb: no such file or directory`},
		}},
		{"GeoIP unreadable but unused", "{\"geoip\":{\"city\":\"missing.mmdb\"}}\n{\"policy\":{\"id\":0}}", LoadOptions{}, nil, []want{
			{1, `"missing.mmdb"`, `warning: geoip: open DIR/missing.mmdb: no such file or directory (no rule needs it)`},
		}},
		{"settings files", "{\"custom_protocols\":\"protos.txt\"}\n{\"custom_protocols\":\"nothere.txt\"}\n{\"category_file\":\"cats.txt\"}\n{\"policy\":{\"id\":0}}", LoadOptions{}, map[string]string{
			"protos.txt": "host:\"a.example\"@App1\nbogus line\n",
			"cats.txt":   "evil.example Malwre\nplain.example\n",
		}, []want{
			{2, `"nothere.txt"`, `custom_protocols: open DIR/nothere.txt: no such file or directory`},
			{-1, "", `protos.txt:2:1: rule "bogus line" has no @Application`},
			{-1, "", `cats.txt:1:14: unknown category "Malwre" (did you mean "Malware"?)`},
			{-1, "", `cats.txt:2:1: "plain.example" has no category: write "plain.example<TAB>CATEGORY", give the file a "category", or name it ID_label.list`},
		}},
		{"lines", "{\"policy\":{\"id\":0}}\nnot json\n{\"policy\":{\"id\":1,}}\n{\"policy\":{\"id\":2}} {\"x\":1}\n{\"zap\":1}", LoadOptions{}, nil, []want{
			{2, `not`, `unexpected "not": each line must be a JSON object or a '#' comment`},
			{3, `}}`, `trailing comma before '}'`},
			{4, `{"x"`, `unexpected "{" after the object: write one object per line`},
			{4, `2}}`, `warning: policy 2 is used by no pool (and is not policy 0)`},
			{5, `"zap"`, `warning: unknown key "zap" in the line is ignored`},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, body := range c.files {
				os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644)
			}
			file := filepath.Join(dir, "p.conf")
			_, rep, err := Parse(file, []byte(c.text), c.opt)
			got := strings.ReplaceAll(diagnostics(err, rep), dir, "DIR")
			for _, w := range c.want {
				exp := strings.ReplaceAll(w.render(c.text, "p.conf"), dir, "DIR")
				if !strings.Contains(got, exp) {
					t.Errorf("missing %q", exp)
				}
			}
			if t.Failed() {
				t.Logf("got:\n%s", got)
			}
		})
	}
}
