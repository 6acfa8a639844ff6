//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ips/test/harness"
)

// Flow events reach the events file with the decision, metrics are
// served, and ips doctor passes in the bridge namespace.
func TestEventsMetricsDoctor(t *testing.T) {
	topo := harness.NewTopology(t)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	if err := harness.PoolPolicy(pol, "pass", map[netip.Addr]string{topo.LAN4(1): "drop"}); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(dir, "events.ndjson")
	d := topo.StartDaemon(t, dir, "--policy", pol, "--events", events, "--metrics", "127.0.0.1:9420")
	wan := topo.WANAddr.String() + ":8080"
	if err := harness.EchoOnce(topo.LAN, topo.LAN4(0), wan, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := harness.EchoOnce(topo.LAN, topo.LAN4(1), wan, 500*time.Millisecond); err == nil {
		t.Fatal("dropped host got through")
	}

	// Metrics, fetched inside the bridge namespace.
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return topo.Bridge.Dialer(netip.Addr{}, time.Second)(ctx, network, addr)
	}}
	resp, err := (&http.Client{Transport: tr, Timeout: 3 * time.Second}).Get("http://127.0.0.1:9420/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`ips_verdicts_total{queue="`, `verdict="pass"}`, `verdict="drop"}`, "ips_queue_kernel_dropped_total", "ips_queue_enobufs_total",
		`ips_rule_packets_total{rule="ips:queue"}`, "ips_queue_batch_latency_seconds_bucket", "ips_queue_added_latency_seconds_bucket"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// SIGHUP reloads like ips reload.
	d.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(d.Log(), "0 decided flows changed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(d.Log(), "SIGHUP: reloading the policy") || !strings.Contains(d.Log(), "0 decided flows changed") {
		t.Errorf("SIGHUP did not reload:\n%s", d.Log())
	}

	// Events are flushed when the daemon stops.
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(events)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	verdicts := map[string]string{}
	kinds := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev struct {
			Event, SrcIP string
			Verdict      string `json:"verdict"`
			Explain      string `json:"explain"`
			PolicyID     *int   `json:"policy_id"`
			Src          string `json:"src_ip"`
			DstPort      int    `json:"dst_port"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		kinds[ev.Event]++
		if ev.DstPort == 8080 && ev.Event == "decided" {
			verdicts[ev.Src] = ev.Verdict
			if ev.PolicyID == nil || ev.Explain == "" {
				t.Errorf("event without policy_id/explain: %s", sc.Text())
			}
		}
	}
	if verdicts[topo.LAN4(0).String()] != "pass" || verdicts[topo.LAN4(1).String()] != "drop" {
		t.Errorf("decided events: %v", verdicts)
	}
	if kinds["ended"] == 0 {
		t.Errorf("no ended events: %v", kinds)
	}

	out, err := topo.Bridge.Run(harness.Binary(t), "doctor", "--lan", topo.LANPort, "--wan", topo.WANPort)
	if err != nil {
		t.Errorf("doctor: %v\n%s", err, out)
	}
	for _, want := range []string{"ok    interface lan0: port of bridge br0", "ok    queue path: using", "ok    br_netfilter net.bridge.bridge-nf-call-iptables"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
}
