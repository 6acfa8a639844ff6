package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The example config parses with ips run's loader and, with an existing
// policy, passes its checks.
func TestExampleConfig(t *testing.T) {
	var stderr bytes.Buffer
	cfg, code := parseRunArgs([]string{"--config", "../../examples/ips.json"}, &stderr)
	if cfg == nil {
		t.Fatalf("examples/ips.json: code %d: %s", code, stderr.String())
	}
	if cfg.Policy != "/etc/ips/policy.json" || cfg.Control != "/run/ips/ips.sock" || len(cfg.LAN) != 1 || len(cfg.WAN) != 1 {
		t.Errorf("examples/ips.json read as %+v", cfg)
	}
	cfg.Policy = "../../examples/policies/office.json"
	if _, err := cfg.check(); err != nil {
		t.Errorf("examples/ips.json does not pass ips run's checks: %v", err)
	}
}

// unitFile reads the keys of a systemd unit (last value wins, as
// systemd does for these keys).
func unitFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: line %q is not key=value", path, line)
		}
		keys[k] = v
	}
	return keys
}

// The unit starts ips run with the example config (its arguments parse),
// reloads through the config's control socket, restarts on failure,
// keeps CAP_NET_ADMIN and nothing else, and leaves writable what ips
// writes. systemd-analyze verify, where installed, checks the rest.
func TestExampleUnit(t *testing.T) {
	const path = "../../examples/ips.service"
	u := unitFile(t, path)
	start := strings.Fields(u["ExecStart"])
	if len(start) < 2 || filepath.Base(start[0]) != "ips" || start[1] != "run" {
		t.Fatalf("ExecStart %q", u["ExecStart"])
	}
	var stderr bytes.Buffer
	args := append([]string{}, start[2:]...)
	for i := range args {
		if args[i] == "/etc/ips/ips.json" {
			args[i] = "../../examples/ips.json"
		}
	}
	if cfg, code := parseRunArgs(args, &stderr); cfg == nil {
		t.Errorf("ExecStart arguments: code %d: %s", code, stderr.String())
	} else if !strings.Contains(u["ExecStart"], "--config /etc/ips/ips.json") {
		t.Errorf("ExecStart does not use /etc/ips/ips.json: %q", u["ExecStart"])
	}
	var ex bytes.Buffer
	cfg, _ := parseRunArgs([]string{"--config", "../../examples/ips.json"}, &ex)
	if cfg == nil || !strings.HasSuffix(u["ExecReload"], "ips reload --control "+cfg.Control) {
		t.Errorf("ExecReload %q does not use the example config's control socket", u["ExecReload"])
	}
	if dir := filepath.Dir(cfg.Control); dir != "/run/"+u["RuntimeDirectory"] || u["RuntimeDirectoryMode"] != "0700" {
		t.Errorf("control socket %s not in the RuntimeDirectory %q (mode %s)", cfg.Control, u["RuntimeDirectory"], u["RuntimeDirectoryMode"])
	}
	if filepath.Dir(cfg.Events) != "/var/log/"+u["LogsDirectory"] {
		t.Errorf("events %s not in LogsDirectory %q", cfg.Events, u["LogsDirectory"])
	}
	want := map[string]string{"Restart": "on-failure", "CapabilityBoundingSet": "CAP_NET_ADMIN", "NoNewPrivileges": "yes", "ProtectSystem": "strict"}
	for k, v := range want {
		if u[k] != v {
			t.Errorf("%s=%q, want %q", k, u[k], v)
		}
	}
	// What would break the kernel side.
	for _, k := range []string{"PrivateNetwork", "ProtectKernelTunables", "PrivateUsers"} {
		if u[k] == "yes" || u[k] == "true" {
			t.Errorf("%s=yes breaks ips (netlink in the host namespace, the conntrack sysctl)", k)
		}
	}
	if !strings.Contains(u["RestrictAddressFamilies"], "AF_NETLINK") {
		t.Errorf("RestrictAddressFamilies %q lacks AF_NETLINK", u["RestrictAddressFamilies"])
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: the unit's syntax is not verified by systemd")
		return
	}
	// verify wants the executables to exist: point them at this test
	// binary.
	self, _ := os.Executable()
	b, _ := os.ReadFile(path)
	tmp := filepath.Join(t.TempDir(), "ips.service")
	os.WriteFile(tmp, bytes.ReplaceAll(b, []byte("/usr/local/bin/ips"), []byte(self)), 0o644)
	out, err := exec.Command(sa, "verify", tmp).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
