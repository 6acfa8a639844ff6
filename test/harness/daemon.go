//go:build linux

package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ips/nfq"
)

var buildIPS = goBuildOnce("ips/cmd/ips", "ips")

// Binary builds cmd/ips once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := buildIPS()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// goBuildOnce returns a function that builds the Go package pkg into a
// temporary directory as name the first time it is called, and returns
// the path (or the build error) every time.
func goBuildOnce(pkg, name string) func() (string, error) {
	return sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "ips-e2e-"+name)
		if err != nil {
			return "", err
		}
		path := filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
		return path, nil
	})
}

// Daemon is an "ips run" process in the bridge namespace.
type Daemon struct {
	t       testing.TB
	topo    *Topology
	Args    []string
	Control string
	Dir     string
	cmd     *exec.Cmd
	log     *lockedBuffer
	exited  chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartDaemon runs "ips run" with the topology's ports, a control socket
// in a temporary directory and the extra args, and waits until it answers.
// The process is stopped (SIGTERM) when the test ends if still running.
func (t *Topology) StartDaemon(tb testing.TB, dir string, args ...string) *Daemon {
	tb.Helper()
	d := &Daemon{t: tb, topo: t, Dir: dir, Control: filepath.Join(dir, "ips.sock")}
	d.Args = append([]string{"run", "--lan", t.LANPort, "--wan", t.WANPort, "--control", d.Control,
		"--queues", "2", "--log-level", "debug"}, args...)
	d.start(tb)
	tb.Cleanup(func() {
		d.Stop()
		if tb.Failed() {
			tb.Logf("ips log:\n%s", d.Log())
		}
	})
	return d
}

func (d *Daemon) start(tb testing.TB) {
	tb.Helper()
	d.log = &lockedBuffer{}
	d.cmd = d.topo.Bridge.Cmd(Binary(tb), d.Args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.exited = make(chan struct{})
	if err := d.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("unix", d.Control); err == nil {
			c.Close()
			// The socket is claimed before the queues start: wait for
			// the daemon to say it runs.
			if strings.Contains(d.Log(), "ips running") {
				return
			}
		}
		select {
		case <-d.exited:
			tb.Fatalf("ips run exited at start: %v\n%s", d.cmd.ProcessState, d.Log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("ips run did not start within 15s:\n%s", d.Log())
		}
	}
}

// Restart starts the same command again (after Kill or Stop).
func (d *Daemon) Restart(tb testing.TB) {
	tb.Helper()
	d.start(tb)
}

// Log is the daemon's output so far.
func (d *Daemon) Log() string { return d.log.String() }

// Kill9 kills the daemon with SIGKILL: no cleanup of any kind.
func (d *Daemon) Kill9() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// Signal sends sig to the daemon.
func (d *Daemon) Signal(sig os.Signal) { d.cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits for the daemon to exit.
func (d *Daemon) Stop() error {
	select {
	case <-d.exited:
		return nil
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		return fmt.Errorf("ips did not stop within 10s")
	}
	if !d.cmd.ProcessState.Success() {
		return fmt.Errorf("ips exited with %v", d.cmd.ProcessState)
	}
	return nil
}

// Running reports whether the process is alive.
func (d *Daemon) Running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// Reload runs "ips reload" against the daemon and returns its output and
// whether it succeeded.
func (d *Daemon) Reload(tb testing.TB) (string, bool) {
	tb.Helper()
	out, err := exec.Command(Binary(tb), "reload", "--control", d.Control).CombinedOutput()
	return string(out), err == nil
}

// DaemonStats is what the control socket's "stats" answers.
type DaemonStats struct {
	Queues []nfq.QueueStats           `json:"queues"`
	Rules  map[string]nfq.RuleCounter `json:"rules"`
}

// QueuedPackets sums the packets all queues received.
func (s DaemonStats) QueuedPackets() uint64 {
	var n uint64
	for _, q := range s.Queues {
		n += q.Packets
	}
	return n
}

// Stats asks the daemon for its counters.
func (d *Daemon) Stats(tb testing.TB) DaemonStats {
	tb.Helper()
	c, err := net.Dial("unix", d.Control)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "stats")
	var s DaemonStats
	if err := json.NewDecoder(c).Decode(&s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// PolicyLine is one line of an nProbe-format policy file.
type PolicyLine = string

// PoolPolicy writes an nProbe IPS policy: policy 0 with the default
// marker, and for each LAN host given a pool of its own with a policy
// whose default marker is the given one. Both the stand-in and the real
// policy engine read it the same way.
func PoolPolicy(path, rootMarker string, hosts map[netip.Addr]string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by the e2e harness\n")
	fmt.Fprintf(&b, `{"policy": {"id": 0, "name": "root", "default_marker": %q}}`+"\n", rootMarker)
	id := 1
	// Deterministic order.
	var addrs []netip.Addr
	for a := range hosts {
		addrs = append(addrs, a)
	}
	sortAddrs(addrs)
	for _, a := range addrs {
		fmt.Fprintf(&b, `{"pool": {"id": %d, "name": "host%d", "ip": [%q]}, "policy": {"id": %d}}`+"\n", id, id, a.String()+"/"+fmt.Sprint(a.BitLen()), id)
		fmt.Fprintf(&b, `{"policy": {"id": %d, "name": "p%d", "root": 0, "default_marker": %q}}`+"\n", id, id, hosts[a])
		id++
	}
	return writeAtomic(path, b.String())
}

func sortAddrs(a []netip.Addr) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j].Less(a[j-1]); j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// writeAtomic replaces a file by renaming, so a reload never reads half a
// file.
func writeAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// WriteFile replaces a file's content atomically.
func WriteFile(path, content string) error { return writeAtomic(path, content) }
