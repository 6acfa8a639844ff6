package policy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// toAny converts a parsed node to what encoding/json produces, to compare
// the two parsers.
func toAny(n *jnode) any {
	switch n.kind {
	case jNull:
		return nil
	case jBool:
		return n.b
	case jNumber:
		return json.Number(n.str)
	case jString:
		return n.str
	case jArray:
		out := make([]any, 0, len(n.elems))
		for _, e := range n.elems {
			out = append(out, toAny(e))
		}
		return out
	}
	out := map[string]any{}
	for _, m := range n.mems {
		out[m.key] = toAny(m.val)
	}
	return out
}

func stdParse(b []byte) (any, error) {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, &json.SyntaxError{}
	}
	return v, nil
}

func TestJSONParser(t *testing.T) {
	valid := []string{
		`{}`, `[]`, `{"a":1}`, ` { "a" : [1, -2.5e3, true, false, null, "x"] } `,
		`{"s":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, `"ünïcödé"`, `0`, `-0.0E+1`, `{"a":{"b":{"c":[[]]}}}`,
		`{"bitmap": 18446744073709551615}`,
	}
	for _, s := range valid {
		n, end, err := parseJSONValue([]byte(s), 0)
		if err != nil {
			t.Errorf("%s: %s at %d", s, err.msg, err.off)
			continue
		}
		if strings.TrimSpace(s[end:]) != "" {
			t.Errorf("%s: stopped at %d", s, end)
		}
		want, _ := stdParse([]byte(s))
		if got := toAny(n); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %#v, want %#v", s, got, want)
		}
	}
	invalid := map[string]string{
		`{"a":1,}`:               "trailing comma before '}'",
		`[1,]`:                   "trailing comma before ']'",
		`{"a" 1}`:                `want ':' after key "a"`,
		`{a:1}`:                  `unexpected "a", want a key in double quotes`,
		`{"a":1 "b":2}`:          `unexpected '"', want ',' or '}' (a missing comma?)`,
		`{'a':1}`:                `unexpected "'a'", want a key in double quotes`,
		`{"a":'x'}`:              "strings take double quotes in JSON",
		`{"a":01}`:               `bad number "01"`,
		`{"a":1.}`:               "bad number: digits must follow the decimal point",
		`{"a":1e}`:               "bad number: digits must follow the exponent",
		`{"a":tru}`:              `unexpected "tru", want a value`,
		`{"a":drop}`:             `unexpected character 'd', want a value`,
		"{\"a\":\"x\ny\"}":       "unterminated string (a newline inside a string must be written \\n)",
		`{"a":"\x"}`:             `bad escape "\\x"`,
		`{"a":"\u12"}`:           `bad \u escape`,
		`{"a":1`:                 "unterminated object (missing '}')",
		`[1`:                     "unterminated array (missing ']')",
		`{"a":# x`:               "comments are only allowed on lines of their own (nProbe format)",
		"\"\xff\"":               "invalid UTF-8 in string",
		strings.Repeat("[", 100): "nested too deeply",
	}
	for s, msg := range invalid {
		_, _, err := parseJSONValue([]byte(s), 0)
		if err == nil || err.msg != msg {
			t.Errorf("%q: got %v, want %q", s, err, msg)
		}
	}
}

func TestPositions(t *testing.T) {
	f := newSrcFile("f", []byte("ab\n\ncé{x\n"))
	cases := map[int][2]int{0: {1, 1}, 1: {1, 2}, 3: {2, 1}, 4: {3, 1}, 6: {3, 3}, 7: {3, 3}, 8: {3, 4}, 10: {4, 1}}
	for off, want := range cases {
		if l, c := f.pos(off); l != want[0] || c != want[1] {
			t.Errorf("pos(%d) = %d:%d, want %d:%d", off, l, c, want[0], want[1])
		}
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"YouTube", "YouTubeUpload", "BitTorrent", "Video", "Tor", "TLS"}
	cases := map[string]string{
		"Youtbe": "YouTube", "youtube upload": "YouTubeUpload", "bittorent": "BitTorrent",
		"Vidoe": "Video", "Tro": "Tor", "TSL": "TLS", "Facebook": "", "x": "",
	}
	for w, want := range cases {
		if got := nearest(w, cands); got != want {
			t.Errorf("nearest(%q) = %q, want %q", w, got, want)
		}
	}
}

// FuzzJSON: the parser accepts only what encoding/json accepts, decodes
// the same values, and never panics.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"policy": {"id": 0, "markers": {"protocols": {"TLS": "pass"}}}}`, `[1, "a\u00e9", null]`, `{"a":1,}`, `"\ud800"`, `-0.5e-3`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, end, err := parseJSONValue(b, 0)
		if err != nil {
			if err.off < 0 || err.off > len(b) {
				t.Fatalf("error offset %d outside the input", err.off)
			}
			return
		}
		if end > len(b) {
			t.Fatalf("end %d beyond the input", end)
		}
		want, serr := stdParse(b[:end])
		if serr != nil {
			t.Fatalf("accepted %q, which encoding/json rejects: %v", b[:end], serr)
		}
		if got := toAny(n); !reflect.DeepEqual(got, want) && !strings.Contains(string(b[:end]), `\u`) {
			t.Fatalf("%q: %#v, want %#v", b[:end], got, want)
		}
	})
}
