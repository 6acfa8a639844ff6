//go:build linux

package e2e

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ips/test/harness"
)

// endedEvent is what the accounting tests read from an ended event.
type endedEvent struct {
	Event          string `json:"event"`
	Time           string `json:"time"`
	SrcIP          string `json:"src_ip"`
	SrcPort        int    `json:"src_port"`
	DstPort        int    `json:"dst_port"`
	Verdict        string `json:"verdict"`
	Src2DstBytes   uint64 `json:"src2dst_bytes"`
	Dst2SrcBytes   uint64 `json:"dst2src_bytes"`
	Src2DstPackets uint64 `json:"src2dst_packets"`
	Dst2SrcPackets uint64 `json:"dst2src_packets"`
	BiBytes        uint64 `json:"bidirectional_bytes"`
	BiPackets      uint64 `json:"bidirectional_packets"`
	DurationMS     int64  `json:"bidirectional_duration_ms"`
	Accounting     string `json:"accounting"`
	End            string `json:"end_reason"`
	State          string `json:"conntrack_state"`
}

func readEvents(t *testing.T, path string) []endedEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	defer f.Close()
	var out []endedEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e endedEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// findEnded returns the ended events of the flow from the local port.
func findEnded(evs []endedEvent, srcPort int) []endedEvent {
	var out []endedEvent
	for _, e := range evs {
		if e.Event == "ended" && e.SrcPort == srcPort {
			out = append(out, e)
		}
	}
	return out
}

func waitEnded(t *testing.T, path string, srcPort int, within time.Duration) (endedEvent, bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if es := findEnded(readEvents(t, path), srcPort); len(es) > 0 {
			if len(es) > 1 {
				t.Errorf("flow from port %d ended %d times: %+v", srcPort, len(es), es)
			}
			return es[0], true
		}
		if time.Now().After(deadline) {
			return endedEvent{}, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A decided flow's ended event carries conntrack's counters: a 64 MB
// download through an allowed flow ends, when its connection closes, with
// at least 64 MB from the server, FIN as the reason and its duration. An
// idle connection outlives the user-space idle timeout (--flow-idle 2s)
// without an ended event, and ends when it closes. Conntrack accounting
// is switched on for the run and restored after.
func TestFlowAccounting(t *testing.T) {
	topo := harness.NewTopology(t)
	const size = 64 << 20
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8081"), harness.Download(size))
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	if err := harness.PoolPolicy(pol, "pass", nil); err != nil {
		t.Fatal(err)
	}
	if out := topo.Bridge.MustRun(t, "sysctl", "-n", "net.netfilter.nf_conntrack_acct"); strings.TrimSpace(out) != "0" {
		t.Fatalf("nf_conntrack_acct is %q in a fresh namespace; the test wants 0 to see ips switch it", out)
	}
	events := filepath.Join(dir, "events.ndjson")
	d := topo.StartDaemon(t, dir, "--policy", pol, "--events", events, "--flow-idle", "2s")
	if out := topo.Bridge.MustRun(t, "sysctl", "-n", "net.netfilter.nf_conntrack_acct"); strings.TrimSpace(out) != "1" {
		t.Errorf("ips run did not switch conntrack accounting on: %q", out)
	}
	wan := topo.WANAddr.String()

	// The idle connection, opened first so that it outlives the download.
	idle, err := topo.LAN.Dial("tcp", topo.LAN4(1), wan+":8080", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	echo := func() error {
		idle.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := idle.Write([]byte("ping\n")); err != nil {
			return err
		}
		buf := make([]byte, 5)
		_, err := idle.Read(buf)
		return err
	}
	if err := echo(); err != nil {
		t.Fatal(err)
	}
	idlePort := idle.LocalAddr().(*net.TCPAddr).Port

	// The download.
	c, err := topo.LAN.Dial("tcp", topo.LAN4(0), wan+":8081", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	dlPort := c.LocalAddr().(*net.TCPAddr).Port
	start := time.Now()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	c.Write([]byte{'\n'})
	var got int64
	buf := make([]byte, 1<<20)
	for {
		n, err := c.Read(buf)
		got += int64(n)
		if err != nil {
			break
		}
	}
	// The server has closed its side; we have not: the flow is in
	// CLOSE_WAIT and must not have ended yet.
	if es := findEnded(readEvents(t, events), dlPort); len(es) > 0 {
		t.Errorf("download ended before its connection closed: %+v", es)
	}
	c.Close()
	closed := time.Now()
	elapsed := closed.Sub(start)
	if got != size {
		t.Fatalf("downloaded %d bytes, want %d", got, size)
	}
	e, ok := waitEnded(t, events, dlPort, 5*time.Second)
	if !ok {
		t.Fatalf("no ended event for the download within 5s of its close; events: %+v", readEvents(t, events))
	}
	t.Logf("download: %d bytes in %v; ended event: %+v", got, elapsed, e)
	if e.Accounting != "conntrack" || e.Dst2SrcBytes < size || e.Src2DstBytes >= size/10 || e.BiBytes != e.Src2DstBytes+e.Dst2SrcBytes {
		t.Errorf("ended event counters: accounting %q, server→client %d (want ≥ %d), client→server %d, both %d", e.Accounting, e.Dst2SrcBytes, size, e.Src2DstBytes, e.BiBytes)
	}
	if e.Dst2SrcPackets < size/65536 || e.BiPackets != e.Src2DstPackets+e.Dst2SrcPackets {
		t.Errorf("ended event packets: %d server→client, %d both", e.Dst2SrcPackets, e.BiPackets)
	}
	if e.End != "fin" || e.State != "TIME_WAIT" {
		t.Errorf("end reason %q (conntrack state %q), want fin (TIME_WAIT)", e.End, e.State)
	}
	if dur := time.Duration(e.DurationMS) * time.Millisecond; dur < elapsed/2 || dur > elapsed+3*time.Second {
		t.Errorf("duration %v, the download took %v", dur, elapsed)
	}
	if ts, err := time.Parse(time.RFC3339Nano, e.Time); err != nil || ts.Before(closed.Add(-50*time.Millisecond)) {
		t.Errorf("ended event at %s, the connection closed at %s", e.Time, closed.UTC().Format(time.RFC3339Nano))
	}

	// The idle connection has now been silent for longer than the
	// user-space idle timeout plus its 1 s check: no ended event.
	if wait := 4*time.Second - time.Since(start); wait > 0 {
		time.Sleep(wait)
	}
	if es := findEnded(readEvents(t, events), idlePort); len(es) > 0 {
		t.Errorf("idle but open connection got an ended event: %+v", es)
	}
	if err := echo(); err != nil {
		t.Errorf("idle connection broken: %v", err)
	}
	idle.Close()
	e, ok = waitEnded(t, events, idlePort, 5*time.Second)
	if !ok {
		t.Fatal("no ended event after the idle connection closed")
	}
	if e.End != "fin" || e.Accounting != "conntrack" || e.Src2DstBytes == 0 || e.Dst2SrcPackets < 2 {
		t.Errorf("idle connection's ended event: %+v", e)
	}

	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if out := topo.Bridge.MustRun(t, "sysctl", "-n", "net.netfilter.nf_conntrack_acct"); strings.TrimSpace(out) != "0" {
		t.Errorf("stop did not restore nf_conntrack_acct to 0: %q", out)
	}
}
