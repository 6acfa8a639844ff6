package policy

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"ips/dpi"
	"ips/pools"
	"ips/pools/geotest"
)

var (
	geoOnce        sync.Once
	geoLoc, geoASN string
	geoErr         error
	geoDir         string
)

// sampleGeo writes geotest's sample databases once per test binary.
func sampleGeo(t testing.TB) (loc, asn string) {
	t.Helper()
	geoOnce.Do(func() {
		geoDir, geoErr = os.MkdirTemp("", "ips-policy-geo")
		if geoErr == nil {
			geoLoc, geoASN, geoErr = geotest.WriteSample(geoDir)
		}
	})
	if geoErr != nil {
		t.Fatal(geoErr)
	}
	return geoLoc, geoASN
}

func TestMain(m *testing.M) {
	code := m.Run()
	if geoDir != "" {
		os.RemoveAll(geoDir)
	}
	os.Exit(code)
}

// parse loads text as a policy file in a fresh directory, with extra
// files written beside it.
func parse(t testing.TB, name, text string, opt LoadOptions, files map[string]string) (*Set, *Report, error) {
	t.Helper()
	dir := t.TempDir()
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Parse(filepath.Join(dir, name), []byte(text), opt)
}

func mustParse(t testing.TB, text string, opt LoadOptions) *Set {
	t.Helper()
	s, _, err := parse(t, "policy.conf", text, opt, nil)
	if err != nil {
		t.Fatalf("load failed:\n%v", err)
	}
	return s
}

// diagnostics renders a load's errors and warnings with the file name
// replaced by "F", one per line.
func diagnostics(err error, rep *Report) string {
	var lines []string
	var el ErrorList
	if errors.As(err, &el) {
		for _, d := range el {
			d.File = filepath.Base(d.File)
			lines = append(lines, d.String())
		}
	}
	if rep != nil {
		for _, d := range rep.Warnings {
			d.File = filepath.Base(d.File)
			lines = append(lines, d.String())
		}
	}
	return strings.Join(lines, "\n")
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func mac(s string) pools.MAC {
	m, err := pools.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// flow is a hand-built flow for Evaluate.
type flow struct {
	local, remote string
	mac           string
	r             dpi.Result
}

func (f flow) input() *Input {
	in := &Input{Local: addr(f.local), Remote: addr(f.remote), Result: &f.r}
	if f.mac != "" {
		in.LocalMAC, in.HasMAC = mac(f.mac), true
	}
	return in
}

// classified returns a final Result.
func classified(master, app dpi.ProtoID, host string) dpi.Result {
	r := dpi.Result{State: dpi.Classified, Master: master, App: app, Hostname: host}
	r.Category = app.Category()
	if app == 0 || r.Category == 0 {
		r.Category = master.Category()
	}
	return r
}
