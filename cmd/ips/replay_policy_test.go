package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const conformance = "../../../shared/conformance/ndpi/pcap/"

type judged struct {
	App      string `json:"application_name"`
	Verdict  string `json:"verdict"`
	PolicyID *int   `json:"policy_id"`
	Pool     string `json:"pool"`
	Explain  string `json:"explain"`
	Enforced *bool  `json:"enforced"`
	Src      string `json:"src_ip"`
	Dst      string `json:"dst_ip"`
}

func replayJudged(t *testing.T, args ...string) []judged {
	t.Helper()
	code, out, errs := runIPS(append([]string{"replay"}, args...)...)
	if code != 0 {
		t.Fatalf("ips replay %v: exit %d\n%s", args, code, errs)
	}
	var flows []judged
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var j judged
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		flows = append(flows, j)
	}
	return flows
}

// checkBlocked asserts that a flow is dropped exactly when its
// application name carries the blocked protocol, with an explanation, and
// that at least min flows were.
func checkBlocked(t *testing.T, flows []judged, proto string, min int) {
	t.Helper()
	if len(flows) == 0 {
		t.Fatal("no flows")
	}
	blocked := 0
	for _, f := range flows {
		want := "pass"
		if strings.Contains(f.App, proto) {
			want = "drop"
			blocked++
		}
		if f.Verdict != want || f.PolicyID == nil || *f.PolicyID != 0 || f.Explain == "" {
			t.Errorf("%s %s → %s: verdict %q (policy %v, %q), want %q", f.App, f.Src, f.Dst, f.Verdict, f.PolicyID, f.Explain, want)
		}
		if want == "drop" && f.Explain != "policy 0: protocol "+proto+" → drop" {
			t.Errorf("%s: explanation %q", f.App, f.Explain)
		}
	}
	t.Logf("%d flows, %d named %s and dropped", len(flows), blocked, proto)
	if blocked < min {
		t.Errorf("%d flows named %s, want at least %d", blocked, proto, min)
	}
}

// TestReplayBlockTor: every flow named Tor is dropped and every other one
// passes (tor.pcap holds 7 Tor connections, several split by pauses).
func TestReplayBlockTor(t *testing.T) {
	if _, err := os.Stat(conformance + "tor.pcap"); err != nil {
		t.Skip("conformance captures not present")
	}
	checkBlocked(t, replayJudged(t, "--policy", "../../examples/policies/block-tor.json", conformance+"tor.pcap"), "Tor", 7)
}

func TestReplayBlockBitTorrent(t *testing.T) {
	for _, p := range []string{"bittorrent.pcap", "bt_search.pcap", "bt-dns.pcap"} {
		if _, err := os.Stat(conformance + p); err != nil {
			t.Skip("conformance captures not present")
		}
		t.Run(p, func(t *testing.T) {
			checkBlocked(t, replayJudged(t, "--policy", "../../examples/policies/block-bittorrent.json", conformance+p), "BitTorrent", 1)
		})
	}
}

// TestReplayPoolsAndLAN: pools are matched on the LAN side; --lan picks
// it when both ends are private or public.
func TestReplayPoolsAndLAN(t *testing.T) {
	if _, err := os.Stat(conformance + "tor.pcap"); err != nil {
		t.Skip("conformance captures not present")
	}
	dir := t.TempDir()
	pol := dir + "/p.json"
	os.WriteFile(pol, []byte(`{"version": 1,
	  "pools": [{"name": "host252", "ip": ["192.168.1.252"], "policy": 1}, {"name": "router", "ip": ["192.168.1.1"], "policy": 1}],
	  "policies": [{"id": 0, "default_marker": "pass"}, {"id": 1, "default_marker": "drop"}]}`), 0o644)
	for _, f := range replayJudged(t, "--policy", pol, conformance+"tor.pcap") {
		want := ""
		switch {
		case f.Src == "192.168.1.252" || f.Dst == "192.168.1.252":
			want = "host252"
		case f.Src == "192.168.1.1":
			want = "router"
		}
		if f.Pool != want {
			t.Errorf("%s → %s: pool %q, want %q", f.Src, f.Dst, f.Pool, want)
		}
	}
	// Broadcasts from 192.168.1.1 to 192.168.1.255: both private; with
	// --lan naming the broadcast address, the other end is the LAN host.
	for _, f := range replayJudged(t, "--policy", pol, "--lan", "192.168.1.255", conformance+"tor.pcap") {
		if f.Dst == "192.168.1.255" && f.Pool != "" {
			t.Errorf("%s → %s: pool %q with --lan 192.168.1.255", f.Src, f.Dst, f.Pool)
		}
	}
	if code, _, _ := runIPS("replay", "--policy", pol, "--lan", "nonsense", conformance+"tor.pcap"); code != 2 {
		t.Errorf("bad --lan: exit %d", code)
	}
}

// TestReplayEnforceFalse: with "enforce": false on the policy of the
// Tor host's pool, replay still says drop for its Tor flows, with
// "enforced": false; the flows of policy 0 say enforced true.
func TestReplayEnforceFalse(t *testing.T) {
	if _, err := os.Stat(conformance + "tor.pcap"); err != nil {
		t.Skip("conformance captures not present")
	}
	dir := t.TempDir()
	pol := dir + "/p.json"
	os.WriteFile(pol, []byte(`{"version": 1,
	  "pools": [{"name": "trial", "ip": ["192.168.1.252"], "policy": 1}],
	  "policies": [{"id": 0, "default_marker": "pass", "markers": {"protocols": {"Tor": "drop"}}},
	    {"id": 1, "parent": 0, "enforce": false}]}`), 0o644)
	monitoredDrops := 0
	for _, f := range replayJudged(t, "--policy", pol, conformance+"tor.pcap") {
		if f.Enforced == nil {
			t.Fatalf("%s → %s: no enforced field", f.Src, f.Dst)
		}
		if want := f.Pool != "trial"; *f.Enforced != want {
			t.Errorf("%s → %s (pool %q): enforced %v, want %v", f.Src, f.Dst, f.Pool, *f.Enforced, want)
		}
		if f.Pool == "trial" && f.Verdict == "drop" {
			monitoredDrops++
		}
	}
	if monitoredDrops < 7 {
		t.Errorf("%d Tor flows of the monitored pool say drop, want 7 or more", monitoredDrops)
	}
}
