//go:build linux

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"ips/test/harness"
)

// ips doctor while the daemon runs: its queues and table are reported as
// in use by it (pid from the control socket), not as failures, and
// doctor --cleanup refuses to pull its rules from under it.
func TestDoctorWhileRunning(t *testing.T) {
	topo := harness.NewTopology(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	if err := harness.PoolPolicy(pol, "pass", nil); err != nil {
		t.Fatal(err)
	}
	d := topo.StartDaemon(t, dir, "--policy", pol, "--log-level", "info")
	pid := d.PID()
	doctor := func(args ...string) (string, error) {
		return topo.Bridge.Run(harness.Binary(t), append([]string{"doctor", "--lan", topo.LANPort, "--wan", topo.WANPort,
			"--queues", "2", "--control", d.Control}, args...)...)
	}
	out, err := doctor()
	t.Logf("ips doctor while ips runs:\n%s", out)
	if err != nil {
		t.Errorf("doctor failed while ips runs: %v", err)
	}
	if strings.Contains("\n"+out, "\nFAIL") {
		t.Errorf("doctor reports failures while ips runs:\n%s", out)
	}
	for _, want := range []string{
		fmt.Sprintf("ips is running (pid %d, control %s", pid, d.Control),
		fmt.Sprintf("ok    NFQUEUE 0: in use by the running ips (pid %d)", pid),
		fmt.Sprintf("ok    NFQUEUE 1: in use by the running ips (pid %d)", pid),
		fmt.Sprintf("nftables table inet ips is present: in use by the running ips (pid %d)", pid),
		"queue 0 bound by netlink port",
		fmt.Sprintf(", in use by the running ips (pid %d): waiting", pid),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q", want)
		}
	}
	// A queue the daemon does not hold is still probed.
	out, err = doctor("--queues", "3")
	if err != nil || !strings.Contains(out, "ok    NFQUEUE 2 bindable: free") {
		t.Errorf("doctor --queues 3 (queue 2 not the daemon's): %v\n%s", err, out)
	}

	out, err = doctor("--cleanup")
	if err == nil || !strings.Contains(out, "stop it first") {
		t.Errorf("doctor --cleanup while ips runs: %v\n%s", err, out)
	}
	if _, err := topo.Bridge.Run("nft", "list", "table", "inet", "ips"); err != nil {
		t.Errorf("table inet ips gone after a refused cleanup: %v", err)
	}
	if !d.Running() {
		t.Fatal("ips exited")
	}

	// Once it stops, the same queues are free again.
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	out, err = doctor()
	if err != nil || strings.Contains(out, "ips is running") || !strings.Contains(out, "ok    NFQUEUE 0 bindable: free") {
		t.Errorf("doctor after ips stopped: %v\n%s", err, out)
	}
}
