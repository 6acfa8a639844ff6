package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmptyPolicyCheckRunReload: ips check, the daemon's start and its
// reload all refuse an effectively empty policy with a message naming
// the file and the fix; a reload keeps the old policy in force.
func TestEmptyPolicyCheckRunReload(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	os.WriteFile(good, []byte(`{"policy": {"id": 0, "default_marker": "pass", "markers": {"protocols": {"Tor": "drop"}}}}`+"\n"), 0o644)
	for name, text := range map[string]string{
		"zero.conf": "", "blank.conf": "\n  \n", "comments.conf": "# nothing\n", "array.conf": "[]",
		"object.json": "{}", "version.json": `{"version": 1}`, "norule.json": `{"version": 1, "policies": [{"id": 0}]}`,
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		code, _, errs := runIPS("check", p)
		if code != 1 || !strings.Contains(errs, p+": the policy ") || !strings.Contains(errs, `"default_marker": "pass" on policy 0`) {
			t.Errorf("check %s: exit %d\n%s", name, code, errs)
		}
		if _, _, err := newBrain(brainOptions{Policy: p}, nil, nil); err == nil || !strings.Contains(err.Error(), p+": the policy ") {
			t.Errorf("run with %s: %v", name, err)
		}
		b, _, err := newBrain(brainOptions{Policy: good}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Reload(p); err == nil || !strings.Contains(err.Error(), p+": the policy ") {
			t.Errorf("reload with %s: %v", name, err)
		}
		if got := b.(*policyBrain).holder.Load().File(); got != good {
			t.Errorf("reload with %s replaced the policy in force with %s", name, got)
		}
	}
	missing := filepath.Join(dir, "nonexistent.conf")
	if code, _, errs := runIPS("check", missing); code != 1 || !strings.Contains(errs, missing+": cannot read the policy") {
		t.Errorf("check of a missing file: exit %d %s", code, errs)
	}
	// ips run without --policy refuses to start (there is no built-in
	// pass-all policy).
	cfg, _ := parseRunArgs([]string{"--lan", "lan0", "--wan", "wan0"}, &strings.Builder{})
	if _, err := cfg.check(); err == nil || !strings.Contains(err.Error(), "--policy: required") {
		t.Errorf("run without --policy: %v", err)
	}
}

// TestCheckOutputCapped: 200 errors print as the first 50 and a count.
func TestCheckOutputCapped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "many.conf")
	var b strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, `{"policy": {"id": %d, "root": 0, "default_marker": "nosuchmarker"}}`+"\n", i)
	}
	os.WriteFile(p, []byte(b.String()), 0o644)
	code, _, errs := runIPS("check", p)
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if code != 1 || len(lines) != 52 || !strings.HasPrefix(lines[0], p+":1:") ||
		!strings.HasPrefix(lines[50], "… and 150 more errors") || !strings.HasSuffix(lines[51], "200 error(s), 199 warning(s)") {
		t.Errorf("exit %d, %d lines:\n%s", code, len(lines), strings.Join(lines[max(0, len(lines)-3):], "\n"))
	}
}
