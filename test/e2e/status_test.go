//go:build linux

package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ips/test/harness"
)

// ips flows lists a live 24 MB download with conntrack's byte counts
// while its connection is open, and a blocked host's flow with verdict
// drop and its explanation; the filters select; ips status answers with
// the policy's hash, the kernel path and the queues' counters; the
// control socket is root-only.
func TestStatusAndFlows(t *testing.T) {
	topo := harness.NewTopology(t)
	const size = 24 << 20
	// Sends size bytes, then holds the connection open until the client
	// closes it.
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8082"), func(c net.Conn) {
		buf := make([]byte, 1)
		if _, err := c.Read(buf); err != nil {
			return
		}
		chunk := make([]byte, 256<<10)
		for n := 0; n < size; n += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
		io.Copy(io.Discard, c)
	})
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	blocked := topo.LAN4(1)
	if err := harness.PoolPolicy(pol, "pass", map[netip.Addr]string{blocked: "drop"}); err != nil {
		t.Fatal(err)
	}
	d := topo.StartDaemon(t, dir, "--policy", pol)
	if st, err := os.Stat(d.Control); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode: %v %v, want 0600", st.Mode(), err)
	}
	wan := topo.WANAddr.String()

	c, err := topo.LAN.Dial("tcp", topo.LAN4(0), wan+":8082", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c.Write([]byte{'\n'})
	if _, err := io.ReadFull(c, make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	dlPort := c.LocalAddr().(*net.TCPAddr).Port
	if _, err := topo.LAN.Dial("tcp", blocked, wan+":8082", 500*time.Millisecond); err == nil {
		t.Fatal("blocked host connected")
	}

	ips := func(args ...string) (string, error) {
		out, err := exec.Command(harness.Binary(t), append(args, "--control", d.Control)...).CombinedOutput()
		return string(out), err
	}
	type flow struct {
		SrcIP, Verdict, Explain, Pool string
		SrcPort                       int    `json:"src_port"`
		DstPort                       int    `json:"dst_port"`
		Protocol                      int    `json:"protocol"`
		App                           string `json:"application_name"`
		Src2Dst                       uint64 `json:"src2dst_bytes"`
		Dst2Src                       uint64 `json:"dst2src_bytes"`
		Bi                            uint64 `json:"bidirectional_bytes"`
		BiPackets                     uint64 `json:"bidirectional_packets"`
		Age                           int64  `json:"age_ms"`
		Accounting                    string `json:"accounting"`
		State                         string `json:"conntrack_state"`
	}
	flows := func(args ...string) []flow {
		t.Helper()
		out, err := ips(append([]string{"flows", "--json"}, args...)...)
		if err != nil {
			t.Fatalf("ips flows: %v\n%s", err, out)
		}
		var fl []flow
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var f flow
			if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
				t.Fatalf("ips flows line %q: %v", sc.Text(), err)
			}
			f.SrcIP = strings.Split(sc.Text(), `"src_ip":"`)[1]
			f.SrcIP = f.SrcIP[:strings.IndexByte(f.SrcIP, '"')]
			fl = append(fl, f)
		}
		return fl
	}
	var dl, bl *flow
	all := flows()
	for i := range all {
		f := &all[i]
		if f.SrcPort == dlPort && f.SrcIP == topo.LAN4(0).String() {
			dl = f
		}
		if f.SrcIP == blocked.String() && f.DstPort == 8082 {
			bl = f
		}
	}
	if dl == nil || bl == nil {
		t.Fatalf("ips flows lacks the download or the blocked flow: %+v", all)
	}
	t.Logf("download: %+v\nblocked: %+v", *dl, *bl)
	if dl.Verdict != "pass" || dl.Accounting != "conntrack" || dl.Dst2Src < size || dl.Bi != dl.Src2Dst+dl.Dst2Src || dl.State != "ESTABLISHED" || dl.Age <= 0 || dl.Protocol != 6 || dl.Explain == "" {
		t.Errorf("live download in ips flows: %+v", *dl)
	}
	if bl.Verdict != "drop" || !strings.Contains(bl.Explain, "drop") || bl.Pool != "host1" || bl.BiPackets == 0 {
		t.Errorf("blocked flow in ips flows: %+v", *bl)
	}
	if fl := flows("--verdict", "drop"); len(fl) == 0 || fl[0].Verdict != "drop" || len(fl) >= len(all) {
		t.Errorf("--verdict drop: %+v", fl)
	}
	if fl := flows("--pool", "host1"); len(fl) == 0 || fl[0].Pool != "host1" {
		t.Errorf("--pool host1: %+v", fl)
	}
	if fl := flows("--host", wan); len(fl) < 2 {
		t.Errorf("--host %s: %+v", wan, fl)
	}
	if fl := flows("--app", "NoSuchApp"); len(fl) != 0 {
		t.Errorf("--app NoSuchApp: %+v", fl)
	}
	out, err := ips("flows")
	t.Logf("ips flows:\n%s", out)
	if err != nil || !strings.Contains(out, "VERDICT") || !strings.Contains(out, "drop") || !strings.Contains(out, " MiB") {
		t.Errorf("ips flows table: %v\n%s", err, out)
	}

	out, err = ips("status", "--json")
	if err != nil {
		t.Fatalf("ips status: %v\n%s", err, out)
	}
	var st struct {
		UptimeS float64 `json:"uptime_s"`
		Policy  struct {
			File, SHA256 string
		} `json:"policy"`
		KernelPath string `json:"kernel_path"`
		Queues     []struct {
			Packets uint64 `json:"packets"`
		} `json:"queues"`
		Totals struct {
			Packets  uint64            `json:"packets"`
			Verdicts map[string]uint64 `json:"verdicts"`
		} `json:"totals"`
		Flows struct {
			Tracked    int  `json:"tracked"`
			Conntrack  int  `json:"conntrack"`
			Accounting bool `json:"conntrack_accounting"`
		} `json:"flows"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("ips status --json: %v\n%s", err, out)
	}
	pb, _ := os.ReadFile(pol)
	h := sha256.Sum256(pb)
	if st.Policy.File != pol || st.Policy.SHA256 != hex.EncodeToString(h[:]) {
		t.Errorf("status policy %+v, want %s %x", st.Policy, pol, h)
	}
	if st.KernelPath == "" || len(st.Queues) != 2 || st.Totals.Packets == 0 || st.Totals.Verdicts["pass"] == 0 || st.Totals.Verdicts["drop"] == 0 || st.UptimeS <= 0 {
		t.Errorf("status: %s", out)
	}
	if st.Flows.Tracked < 2 || st.Flows.Conntrack < 1 || !st.Flows.Accounting {
		t.Errorf("status flows: %+v", st.Flows)
	}
	out, err = ips("status")
	t.Logf("ips status:\n%s", out)
	if err != nil || !strings.Contains(out, "kernel path "+st.KernelPath) || !strings.Contains(out, "accounting on") {
		t.Errorf("ips status: %v\n%s", err, out)
	}
	if out, err := exec.Command(harness.Binary(t), "status", "--control", filepath.Join(dir, "nothing.sock")).CombinedOutput(); err == nil || !strings.Contains(string(out), "cannot reach the daemon") {
		t.Errorf("status without a daemon: %v %s", err, out)
	}
}
