//go:build linux

package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"ips/test/harness"
)

// The test applications work through the bare bridge: what the policy
// test below blocks, it blocks because of ips.
func TestAppsThroughBridge(t *testing.T) {
	topo := harness.NewTopology(t)
	apps := topo.StartApps(t)
	checkApps(t, topo, apps, map[string]bool{})
}

// checkApps runs every client; blocked says which must fail.
func checkApps(t *testing.T, topo *harness.Topology, apps *harness.Apps, blocked map[string]bool) {
	t.Helper()
	lan := topo.LAN4(0)
	expect := func(what string, err error) {
		t.Helper()
		switch {
		case blocked[what] && err == nil:
			t.Errorf("%s: got through, want blocked", what)
		case !blocked[what] && err != nil:
			t.Errorf("%s: %v", what, err)
		default:
			t.Logf("%s: blocked=%v (%v)", what, blocked[what], err)
		}
	}
	for _, host := range []string{"allowed.example", "blocked.example"} {
		body, err := apps.HTTPSGet(topo.LAN, lan, host, 2*time.Second)
		if err == nil && body != "hello "+host {
			t.Errorf("https %s: body %q", host, body)
		}
		expect("tls "+host, err)
		expect("quic "+host, apps.QUICEcho(topo.LAN, lan, host, 2*time.Second))
	}
	addrs, err := apps.Resolve(topo.LAN, lan, "allowed.example", 2*time.Second)
	if err == nil && (len(addrs) != 1 || addrs[0] != topo.WANAddr) {
		t.Errorf("dns: %v", addrs)
	}
	expect("dns", err)
	expect("bittorrent", apps.BitTorrentHandshake(topo.LAN, lan, 2*time.Second))
}

// The policy case: drop hostname blocked.example and protocol
// BitTorrent, pass the rest, through the whole stack (NFQUEUE, DPI,
// policy, conntrack marks).
func TestPolicyEndToEnd(t *testing.T) {
	topo := harness.NewTopology(t)
	apps := topo.StartApps(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	if err := harness.WriteFile(pol, `{"policy": {"id": 0, "name": "root", "default_marker": "pass", "markers": {"hostnames": {"blocked.example": "drop"}, "protocols": {"BitTorrent": "drop"}}}}`+"\n"); err != nil {
		t.Fatal(err)
	}
	d := topo.StartDaemon(t, dir, "--policy", pol)
	checkApps(t, topo, apps, map[string]bool{
		"tls blocked.example": true, "quic blocked.example": true, "bittorrent": true})
	s := d.Stats(t)
	t.Logf("queued %d packets in all", s.QueuedPackets())
}

// Every test application works through ips with a pass-all policy, and
// its flows are handed to the kernel after their first packets.
func TestAppsThroughIPS(t *testing.T) {
	topo := harness.NewTopology(t)
	apps := topo.StartApps(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	if err := harness.PoolPolicy(pol, "pass", nil); err != nil {
		t.Fatal(err)
	}
	d := topo.StartDaemon(t, dir, "--policy", pol)
	checkApps(t, topo, apps, map[string]bool{})
	t.Logf("queued %d packets in all", d.Stats(t).QueuedPackets())
}
