//go:build linux

package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ips/test/harness"
)

// decidedEvent is what the monitor tests read from a flow event.
type decidedEvent struct {
	Event    string `json:"event"`
	SrcIP    string `json:"src_ip"`
	Host     string `json:"requested_server_name"`
	Verdict  string `json:"verdict"`
	Enforced *bool  `json:"enforced"`
	Pool     string `json:"pool"`
	PolicyID *int   `json:"policy_id"`
	Explain  string `json:"explain"`
}

// waitDecided waits for the "decided" event of a flow from src to host.
func waitDecided(t *testing.T, path, src, host string, within time.Duration) (decidedEvent, bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var e decidedEvent
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					f.Close()
					t.Fatalf("event %q: %v", sc.Text(), err)
				}
				if e.Event == "decided" && e.SrcIP == src && e.Host == host {
					f.Close()
					return e, true
				}
			}
			f.Close()
		}
		if time.Now().After(deadline) {
			return decidedEvent{}, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const monitorBasePolicy = `{"id": 0, "default_marker": "pass", "markers": {"hostnames": {"blocked.example": "drop"}}}`

// TestMonitorMode: with --monitor the policy that blocks blocked.example
// is judged and reported (decided event: verdict drop, enforced false)
// but TLS to blocked.example works, and ips status says so.
func TestMonitorMode(t *testing.T) {
	topo := harness.NewTopology(t)
	apps := topo.StartApps(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.json")
	if err := harness.WriteFile(pol, `{"version": 1, "policies": [`+monitorBasePolicy+`]}`); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(dir, "events.ndjson")
	d := topo.StartDaemon(t, dir, "--policy", pol, "--events", events, "--monitor")
	lan := topo.LAN4(0)
	// Twice: the second connection finds the first one's decision in
	// the kernel (the mark says pass), the first was decided in flight.
	for i := 0; i < 2; i++ {
		if body, err := apps.HTTPSGet(topo.LAN, lan, "blocked.example", 3*time.Second); err != nil || body != "hello blocked.example" {
			t.Fatalf("monitor mode: https blocked.example #%d: %q %v", i, body, err)
		}
	}
	e, ok := waitDecided(t, events, lan.String(), "blocked.example", 5*time.Second)
	if !ok {
		t.Fatal("no decided event for blocked.example")
	}
	if e.Verdict != "drop" || e.Enforced == nil || *e.Enforced || !strings.Contains(e.Explain, "blocked.example") {
		t.Errorf("decided event %+v, want verdict drop, enforced false, explained", e)
	}
	out, err := exec.Command(harness.Binary(t), "status", "--json", "--control", d.Control).CombinedOutput()
	if err != nil {
		t.Fatalf("ips status: %v\n%s", err, out)
	}
	var st struct {
		Monitor bool `json:"monitor"`
		Totals  struct {
			Monitored map[string]uint64 `json:"monitored"`
			Verdicts  map[string]uint64 `json:"verdicts"`
		} `json:"totals"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("status %s: %v", out, err)
	}
	if !st.Monitor || st.Totals.Monitored["drop"] == 0 || st.Totals.Verdicts["drop"] != 0 {
		t.Errorf("status: monitor %v, totals %+v; want monitor, monitored drops and no enforced drop", st.Monitor, st.Totals)
	}
	out, _ = exec.Command(harness.Binary(t), "status", "--control", d.Control).CombinedOutput()
	if !strings.Contains(string(out), "MONITOR") {
		t.Errorf("ips status does not show monitor mode:\n%s", out)
	}
}

// TestPolicyEnforceFalse: one pool's policy has "enforce": false; only
// that pool's flows to blocked.example pass, both are reported as drops,
// and a reload that sets "enforce": true blocks that pool too.
func TestPolicyEnforceFalse(t *testing.T) {
	topo := harness.NewTopology(t)
	apps := topo.StartApps(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.json")
	enforced, monitored := topo.LAN4(0), topo.LAN4(1)
	doc := func(enforce string) string {
		return `{"version": 1,
 "pools": [{"name": "staff", "ip": ["` + enforced.String() + `/32"], "policy": 1},
           {"name": "trial", "ip": ["` + monitored.String() + `/32"], "policy": 2}],
 "policies": [` + monitorBasePolicy + `,
  {"id": 1, "parent": 0},
  {"id": 2, "parent": 0, "enforce": ` + enforce + `}]}`
	}
	if err := harness.WriteFile(pol, doc("false")); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(dir, "events.ndjson")
	d := topo.StartDaemon(t, dir, "--policy", pol, "--events", events)
	if _, err := apps.HTTPSGet(topo.LAN, enforced, "blocked.example", 2*time.Second); err == nil {
		t.Errorf("pool staff (enforced): https blocked.example got through")
	}
	if body, err := apps.HTTPSGet(topo.LAN, monitored, "blocked.example", 3*time.Second); err != nil || body != "hello blocked.example" {
		t.Errorf("pool trial (enforce false): https blocked.example: %q %v", body, err)
	}
	if _, err := apps.HTTPSGet(topo.LAN, monitored, "allowed.example", 3*time.Second); err != nil {
		t.Errorf("pool trial: https allowed.example: %v", err)
	}
	for _, c := range []struct {
		src      string
		pool     string
		enforced bool
	}{{enforced.String(), "staff", true}, {monitored.String(), "trial", false}} {
		e, ok := waitDecided(t, events, c.src, "blocked.example", 5*time.Second)
		if !ok {
			t.Errorf("%s: no decided event", c.pool)
			continue
		}
		if e.Verdict != "drop" || e.Enforced == nil || *e.Enforced != c.enforced || e.Pool != c.pool {
			t.Errorf("%s: decided event %+v, want verdict drop, enforced %v", c.pool, e, c.enforced)
		}
	}
	// Enforce it: the trial pool is blocked from now on.
	if err := harness.WriteFile(pol, doc("true")); err != nil {
		t.Fatal(err)
	}
	if out, ok := d.Reload(t); !ok {
		t.Fatalf("reload: %s", out)
	}
	if _, err := apps.HTTPSGet(topo.LAN, monitored, "blocked.example", 2*time.Second); err == nil {
		t.Errorf("pool trial after enforce true: https blocked.example got through")
	}
}
