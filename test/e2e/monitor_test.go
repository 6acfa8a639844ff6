//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
	d := topo.StartDaemon(t, dir, "--policy", pol, "--events", events, "--monitor", "--metrics", "127.0.0.1:9420")
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
	// Metrics, inside the bridge namespace: the would-be drop is counted
	// apart, not as a drop the kernel made.
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return topo.Bridge.Dialer(netip.Addr{}, time.Second)(ctx, network, addr)
	}}
	resp, err := (&http.Client{Transport: tr, Timeout: 3 * time.Second}).Get("http://127.0.0.1:9420/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var monitoredDrops, drops float64
	for _, line := range strings.Split(string(body), "\n") {
		var v float64
		if strings.HasPrefix(line, "ips_monitored_verdicts_total{") && strings.Contains(line, `verdict="drop"}`) {
			fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v)
			monitoredDrops += v
		}
		if strings.HasPrefix(line, "ips_verdicts_total{") && strings.Contains(line, `verdict="drop"}`) {
			fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v)
			drops += v
		}
	}
	if monitoredDrops == 0 || drops != 0 {
		t.Errorf("metrics: ips_monitored_verdicts_total drop %v, ips_verdicts_total drop %v; want > 0 and 0", monitoredDrops, drops)
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

// TestMonitoredShapePassesUnshaped: BitTorrent is shaped at 4 Mbit/s in
// two pools, one of whose policy has "enforce": false. The enforced
// pool's download keeps to the rate; the monitored pool's download runs
// unshaped, and its decided event says shape, enforced false.
func TestMonitoredShapePassesUnshaped(t *testing.T) {
	topo := harness.NewTopology(t)
	shapeServers(t, topo, &sync.Map{})
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.json")
	if err := harness.WriteFile(pol, `{"version": 1,
 "shapers": [{"name": "bt", "class": 1, "rate": "4mbit"}],
 "pools": [{"name": "shaped", "ip": ["10.77.0.2/32"], "policy": 1},
           {"name": "watched", "ip": ["10.77.0.3/32"], "policy": 2}],
 "policies": [{"id": 0, "default_marker": "pass"},
  {"id": 1, "parent": 0, "markers": {"protocols": {"BitTorrent": "shape:bt"}}},
  {"id": 2, "parent": 1, "enforce": false}]}`); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(dir, "events.ndjson")
	topo.StartDaemon(t, dir, "--policy", pol, "--events", events, "--state-dir", dir)
	shaped := openStream(t, topo, "shaped", "10.77.0.2", 6882)
	watched := openStream(t, topo, "watched", "10.77.0.3", 6882)
	time.Sleep(time.Second) // past the decision and TCP's start
	s0, w0, t0 := shaped.n.Load(), watched.n.Load(), time.Now()
	time.Sleep(2 * time.Second)
	d := time.Since(t0)
	rs, rw := shaped.rate(s0, shaped.n.Load(), d), watched.rate(w0, watched.n.Load(), d)
	t.Logf("RESULT shaped pool %.1f Mbit/s (shaper 4 Mbit/s), monitored pool %.1f Mbit/s", rs, rw)
	if rs > 6 {
		t.Errorf("enforced pool at %.1f Mbit/s, want ≤ 6 (shaped at 4)", rs)
	}
	if rw < 20 {
		t.Errorf("monitored pool at %.1f Mbit/s, want ≥ 20 (unshaped; the shaper is 4)", rw)
	}
	for _, c := range []struct {
		src      string
		enforced bool
	}{{"10.77.0.2", true}, {"10.77.0.3", false}} {
		var verdict string
		var enforced *bool
		found := false
		f, err := os.ReadFile(events)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(f), "\n") {
			if line == "" {
				continue
			}
			var raw map[string]any
			if err := json.Unmarshal([]byte(line), &raw); err != nil {
				t.Fatal(err)
			}
			if raw["event"] == "decided" && raw["src_ip"] == c.src && raw["dst_port"] == float64(6882) {
				verdict, _ = raw["verdict"].(string)
				if v, ok := raw["enforced"].(bool); ok {
					enforced = &v
				}
				found = true
			}
		}
		if !found || verdict != "shape" || enforced == nil || *enforced != c.enforced {
			t.Errorf("%s: decided event found=%v verdict %q enforced %v, want shape enforced %v", c.src, found, verdict, enforced, c.enforced)
		}
	}
}
