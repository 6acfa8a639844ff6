package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ips/pools/geotest"
)

func runIPS(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	loc, asn, err := geotest.WriteSample(dir)
	if err != nil {
		t.Fatal(err)
	}
	example := "../../examples/policies/nprobe-example.conf"

	code, out, errs := runIPS("check", "--geoip", loc, "--geoip-asn", asn, example)
	if code != 0 || !strings.Contains(out, "ok (nprobe format): 3 pools (8 entries), 4 policies") ||
		!strings.Contains(errs, `nprobe-example.conf:23:128: warning: protocol key "53" is nDPI protocol 53 (CPHA)`) {
		t.Errorf("valid policy: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}

	// Without GeoIP the example's countries cannot be judged: an error.
	code, _, errs = runIPS("check", example)
	if code != 1 || !strings.Contains(errs, "nprobe-example.conf:18:143: countries and continents need a GeoIP") {
		t.Errorf("no GeoIP: exit %d\n%s", code, errs)
	}

	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte(`{"policy": {"id": 0, "default_marker": "pas", "markers": {"protocols": {"Youtube": "drop", "bittorent": "drop"}}}}`+"\n"), 0o644)
	code, _, errs = runIPS("check", bad)
	for _, w := range []string{
		`bad.conf:1:40: unknown marker "pas" (want pass, drop, reject, shape:NAME or a number) (did you mean "pass"?)`,
		`bad.conf:1:92: unknown protocol "bittorent" (did you mean "BitTorrent"?)`,
		"bad.conf: 2 error(s), 0 warning(s)",
	} {
		if !strings.Contains(errs, w) {
			t.Errorf("missing %q in:\n%s", w, errs)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}

	// --convert: the native document on stdout, which checks clean.
	code, out, errs = runIPS("check", "--convert", "--geoip", loc, "--geoip-asn", asn, example)
	if code != 0 || !strings.Contains(out, `"version": 1`) || !strings.Contains(out, `"CPHA": "pass"`) {
		t.Fatalf("convert: exit %d\n%s\n%s", code, out, errs)
	}
	conv := filepath.Join(dir, "conv.json")
	os.WriteFile(conv, []byte(out), 0o644)
	code, out, errs = runIPS("check", conv)
	if code != 0 || !strings.Contains(out, "ok (native format)") || !strings.Contains(out, "0 warning(s)") {
		t.Errorf("converted policy: exit %d\n%s\n%s", code, out, errs)
	}

	if code, _, _ = runIPS("check"); code != 2 {
		t.Errorf("no file: exit %d, want 2", code)
	}
	if code, _, _ = runIPS("check", filepath.Join(dir, "missing.conf")); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
	for _, p := range []string{"block-tor.json", "block-bittorrent.json"} {
		if code, out, errs := runIPS("check", "../../examples/policies/"+p); code != 0 || !strings.Contains(out, "0 warning(s)") {
			t.Errorf("%s: exit %d\n%s%s", p, code, out, errs)
		}
	}
	if code, out, errs := runIPS("check", "--geoip", loc, "--geoip-asn", asn, "../../examples/policies/office.json"); code != 0 || !strings.Contains(out, "0 warning(s)") {
		t.Errorf("office.json: exit %d\n%s%s", code, out, errs)
	}
}
