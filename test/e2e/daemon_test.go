//go:build linux

package e2e

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ips/test/harness"
)

// A flow decided "pass" keeps working after kill -9 in both fail modes
// (its ct mark is handled by the kernel); new flows keep working in
// fail-open and fail in fail-closed. A restart replaces the table the dead
// daemon left and resumes.
func TestFailModesOnKill(t *testing.T) {
	for _, mode := range []string{"open", "closed"} {
		t.Run(mode, func(t *testing.T) {
			topo := harness.NewTopology(t)
			harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
			dir := t.TempDir()
			pol := filepath.Join(dir, "policy.jsonl")
			if err := harness.PoolPolicy(pol, "pass", nil); err != nil {
				t.Fatal(err)
			}
			d := topo.StartDaemon(t, dir, "--policy", pol, "--fail", mode)
			wan := topo.WANAddr.String() + ":8080"
			if err := harness.EchoOnce(topo.LAN, topo.LAN4(0), wan, 2*time.Second); err != nil {
				t.Fatalf("before kill: %v", err)
			}
			p, err := harness.StartPinger(topo.LAN, topo.LAN4(0), wan, 50*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Stop()
			time.Sleep(200 * time.Millisecond)

			d.Kill9()
			killed := time.Now()
			if _, err := topo.Bridge.Run("nft", "list", "table", "inet", "ips"); err != nil {
				t.Errorf("the table should outlive a killed daemon: %v", err)
			}
			time.Sleep(500 * time.Millisecond)
			if last := p.LastEcho(); last.Before(killed.Add(200 * time.Millisecond)) {
				t.Errorf("existing decided flow stalled after kill -9 (last echo %v after the kill)", last.Sub(killed))
			}
			err = harness.EchoOnce(topo.LAN, topo.LAN4(1), wan, time.Second)
			if mode == "open" && err != nil {
				t.Errorf("fail-open: new flow failed with the daemon dead: %v", err)
			}
			if mode == "closed" && err == nil {
				t.Error("fail-closed: new flow worked with the daemon dead")
			}

			d.Restart(t)
			if !strings.Contains(d.Log(), "replaced the nftables table inet ips left by an earlier run") {
				t.Errorf("restart did not report replacing the stale table:\n%s", d.Log())
			}
			if err := harness.EchoOnce(topo.LAN, topo.LAN4(2), wan, 2*time.Second); err != nil {
				t.Errorf("after restart: %v", err)
			}
			if err := d.Stop(); err != nil {
				t.Error(err)
			}
			_, err = topo.Bridge.Run("nft", "list", "table", "inet", "ips")
			if mode == "open" && err == nil {
				t.Error("fail-open stop left the table")
			}
			if mode == "closed" {
				if err != nil {
					t.Error("fail-closed stop removed the table")
				}
				if err := harness.EchoOnce(topo.LAN, topo.LAN4(0), wan, time.Second); err == nil {
					t.Error("fail-closed: new flow worked after a graceful stop")
				}
				out, err := topo.Bridge.Run(harness.Binary(t), "doctor", "--cleanup")
				if err != nil || !strings.Contains(out, "removed") {
					t.Errorf("doctor --cleanup: %v %s", err, out)
				}
				if err := harness.EchoOnce(topo.LAN, topo.LAN4(0), wan, 2*time.Second); err != nil {
					t.Errorf("after cleanup: %v", err)
				}
			}
		})
	}
}

// A reload that drops a host cuts its established connection within a
// second; a malformed policy is refused and leaves the daemon and the
// policy in force; a reload that passes the host again frees the flow.
func TestReload(t *testing.T) {
	topo := harness.NewTopology(t)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	host := topo.LAN4(0)
	if err := harness.PoolPolicy(pol, "pass", nil); err != nil {
		t.Fatal(err)
	}
	d := topo.StartDaemon(t, dir, "--policy", pol)
	wan := topo.WANAddr.String() + ":8080"
	p, err := harness.StartPinger(topo.LAN, host, wan, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	time.Sleep(300 * time.Millisecond)
	if time.Since(p.LastEcho()) > 200*time.Millisecond {
		t.Fatal("pinger not echoing before the reload")
	}

	if err := harness.PoolPolicy(pol, "pass", map[netip.Addr]string{host: "drop"}); err != nil {
		t.Fatal(err)
	}
	out, ok := d.Reload(t)
	reloaded := time.Now()
	if !ok || !strings.Contains(out, "1 decided flows changed, 1 ct marks rewritten") {
		t.Fatalf("reload: ok=%v\n%s", ok, out)
	}
	t.Logf("reload: %s", strings.TrimSpace(out))
	time.Sleep(1500 * time.Millisecond)
	last := p.LastEcho()
	if cut := last.Sub(reloaded); cut > time.Second {
		t.Errorf("connection still echoing %v after the reload that drops it", cut)
	} else {
		t.Logf("last echo %v after the reload", cut)
	}
	if err := harness.EchoOnce(topo.LAN, host, wan, 500*time.Millisecond); err == nil {
		t.Error("new flow of the dropped host worked")
	}
	if err := harness.EchoOnce(topo.LAN, topo.LAN4(1), wan, 2*time.Second); err != nil {
		t.Errorf("other host after the reload: %v", err)
	}

	if err := harness.WriteFile(pol, "{\"policy\": {\"id\": 0, \"default_marker\": \"pass\"}}\n{\"pool\": {\"id\": 1, \"ip\": [\"not-an-ip\"]}, \"policy\": {\"id\": 7}}\n{broken\n"); err != nil {
		t.Fatal(err)
	}
	out, ok = d.Reload(t)
	if ok || !strings.Contains(out, "not-an-ip") || !strings.Contains(out, ":3:") {
		t.Errorf("malformed reload: ok=%v, want every error with its line:\n%s", ok, out)
	}
	if !d.Running() {
		t.Fatal("daemon died on a malformed reload")
	}
	if err := harness.EchoOnce(topo.LAN, host, wan, 500*time.Millisecond); err == nil {
		t.Error("old policy not in force after a malformed reload: dropped host got through")
	}
	if err := harness.EchoOnce(topo.LAN, topo.LAN4(1), wan, 2*time.Second); err != nil {
		t.Errorf("old policy not in force after a malformed reload: %v", err)
	}

	if err := harness.PoolPolicy(pol, "pass", nil); err != nil {
		t.Fatal(err)
	}
	if out, ok := d.Reload(t); !ok {
		t.Fatalf("reload back: %s", out)
	}
	freed := time.Now()
	deadline := freed.Add(8 * time.Second)
	for p.LastEcho().Before(freed) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if p.LastEcho().Before(freed) {
		t.Error("the cut connection did not resume after the drop rule was removed")
	} else {
		t.Logf("connection resumed %v after the freeing reload", p.LastEcho().Sub(freed))
	}
	if err := harness.EchoOnce(topo.LAN, host, wan, 2*time.Second); err != nil {
		t.Errorf("freed host: %v", err)
	}
}
