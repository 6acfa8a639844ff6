//go:build linux

package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ips/test/harness"
	"ips/verdict"
)

// tlsPinger keeps one TLS connection busy: every interval it writes a
// byte and reads it back, counting the echoes.
type tlsPinger struct {
	mu     sync.Mutex
	last   time.Time
	echoes int
	err    error
	local  netip.AddrPort
	stop   chan struct{}
	done   chan struct{}
}

func startTLSPinger(t *testing.T, ns harness.NS, local netip.Addr, addr, host string, roots *harness.PKI, every time.Duration) *tlsPinger {
	return startTLSPingerWait(t, ns, local, addr, host, roots, every, 2*time.Second)
}

// startTLSPingerWait is startTLSPinger waiting up to wait for each echo
// before calling the connection broken.
func startTLSPingerWait(t *testing.T, ns harness.NS, local netip.Addr, addr, host string, roots *harness.PKI, every, wait time.Duration) *tlsPinger {
	t.Helper()
	raw, err := ns.Dial("tcp", local, addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, &tls.Config{RootCAs: roots.Roots, ServerName: host})
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if err := c.Handshake(); err != nil {
		t.Fatalf("tls %s: %v", host, err)
	}
	p := &tlsPinger{last: time.Now(), local: raw.LocalAddr().(*net.TCPAddr).AddrPort(),
		stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer c.Close()
		b := []byte{'x'}
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(every):
			}
			c.SetDeadline(time.Now().Add(wait))
			_, err := c.Write(b)
			if err == nil {
				_, err = io.ReadFull(c, b)
			}
			p.mu.Lock()
			if err != nil {
				p.err = err
				p.mu.Unlock()
				return
			}
			p.last = time.Now()
			p.echoes++
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.Stop)
	return p
}

func (p *tlsPinger) state() (time.Time, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.echoes, p.err
}

func (p *tlsPinger) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// pendingHandshake is a TLS handshake the bridge drops: it stays pending
// (the client retransmits its ClientHello) until the deadline.
type pendingHandshake struct {
	local netip.AddrPort
	done  chan error
	conn  net.Conn
}

func startBlockedHandshake(t *testing.T, ns harness.NS, local netip.Addr, addr, host string, pki *harness.PKI) *pendingHandshake {
	t.Helper()
	raw, err := ns.Dial("tcp", local, addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h := &pendingHandshake{local: raw.LocalAddr().(*net.TCPAddr).AddrPort(), done: make(chan error, 1), conn: raw}
	go func() {
		c := tls.Client(raw, &tls.Config{RootCAs: pki.Roots, ServerName: host})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		h.done <- c.HandshakeContext(ctx)
	}()
	t.Cleanup(func() { raw.Close() })
	return h
}

// completed reports whether the handshake finished (err nil: it got
// through).
func (h *pendingHandshake) completed() (bool, error) {
	select {
	case err := <-h.done:
		h.done <- err
		return true, err
	default:
		return false, nil
	}
}

// ctMark finds the conntrack entry whose original source is src and
// decodes our bits of its mark.
func ctMark(t *testing.T, topo *harness.Topology, src netip.AddrPort) (verdict.Decision, bool) {
	t.Helper()
	l, _ := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	for _, c := range topo.Conntrack(t) {
		if c.Tuple.Src == src {
			return l.Decode(c.Mark)
		}
	}
	return verdict.Decision{}, false
}

// eventPorts reads an events file and returns the client ports of the
// flows it has events for.
func eventPorts(t *testing.T, path string) map[uint16]string {
	t.Helper()
	out := map[uint16]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Event   string `json:"event"`
			SrcPort uint16 `json:"src_port"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err == nil {
			out[ev.SrcPort] = ev.Event
		}
	}
	return out
}

// TestRestartAdopts: flows decided before a restart keep their verdict
// across it without being queued again. An allowed long-lived TLS
// connection keeps echoing through the restart, and the new daemon never
// sees one of its packets (no queue traffic, no flow event, the kernel's
// pass rule counts them); a TLS handshake dropped at its ClientHello stays
// dropped (its retransmissions hit the new table's drop rule). A reload
// after the restart changes nothing for those adopted flows (the daemon
// says so; their metadata died with the earlier run) while new flows get
// the new policy. Run for kill -9 in fail-open (the table outlives the
// process) and for a graceful fail-closed stop (the table is kept on
// purpose).
func TestRestartAdopts(t *testing.T) {
	for _, c := range []struct {
		name, fail string
		kill       bool
	}{{"open-kill9", "open", true}, {"closed-stop", "closed", false}} {
		t.Run(c.name, func(t *testing.T) {
			topo := harness.NewTopology(t)
			pki := harness.NewPKI(t)
			serveTLSEcho(t, topo, pki, ":8443")
			wan := topo.WANAddr.String() + ":8443"
			dir := t.TempDir()
			pol := filepath.Join(dir, "policy.jsonl")
			writePol := func(drop ...string) {
				var m []string
				for _, h := range drop {
					m = append(m, fmt.Sprintf("%q: \"drop\"", h))
				}
				line := fmt.Sprintf(`{"policy": {"id": 0, "name": "root", "default_marker": "pass", "markers": {"hostnames": {%s}}}}`, strings.Join(m, ", "))
				if err := harness.WriteFile(pol, line+"\n"); err != nil {
					t.Fatal(err)
				}
			}
			writePol("blocked.example")
			ev1, ev2 := filepath.Join(dir, "events1.ndjson"), filepath.Join(dir, "events2.ndjson")
			d := topo.StartDaemon(t, dir, "--policy", pol, "--fail", c.fail, "--events", ev1)

			allowed := startTLSPinger(t, topo.LAN, topo.LAN4(0), wan, "allowed.example", pki, 50*time.Millisecond)
			blocked := startBlockedHandshake(t, topo.LAN, topo.LAN4(1), wan, "blocked.example", pki)
			waitFor(t, 5*time.Second, "both flows decided in conntrack", func() bool {
				a, okA := ctMark(t, topo, allowed.local)
				b, okB := ctMark(t, topo, blocked.local)
				return okA && okB && a.Action == verdict.Pass && b.Action == verdict.Drop
			})

			if c.kill {
				d.Kill9()
			} else if err := d.Stop(); err != nil {
				t.Fatal(err)
			}
			down := time.Now()
			time.Sleep(time.Second)
			if last, _, err := allowed.state(); err != nil || last.Before(down.Add(500*time.Millisecond)) {
				t.Errorf("allowed connection stalled while ips was down: last echo %v after the stop, err %v", last.Sub(down), err)
			}
			if done, err := blocked.completed(); done && err == nil {
				t.Fatal("blocked handshake completed while ips was down")
			}

			d.Args = replaceArg(d.Args, "--events", ev2)
			d.Restart(t)
			restarted := time.Now()
			if !strings.Contains(d.Log(), "replaced the nftables table inet ips left by an earlier run") {
				t.Errorf("restart did not replace the stale table:\n%s", d.Log())
			}
			if !strings.Contains(d.Log(), "adopted the flows an earlier run decided") || !strings.Contains(d.Log(), `entries=2 by_action="pass 1, drop 1"`) {
				t.Errorf("restart did not adopt the decided flows:\n%s", d.Log())
			}

			if err := tlsHandshake(topo.LAN, topo.LAN4(2), wan, "allowed.example", pki, 2*time.Second); err != nil {
				t.Errorf("new allowed.example connection after the restart: %v", err)
			}
			before := d.Stats(t)
			_, echoes0, _ := allowed.state()
			time.Sleep(1500 * time.Millisecond)
			after := d.Stats(t)
			last, echoes1, err := allowed.state()
			if err != nil || last.Before(restarted.Add(time.Second)) {
				t.Fatalf("allowed connection stalled after the restart: last echo %v after it, err %v", last.Sub(restarted), err)
			}
			queued := after.QueuedPackets() - before.QueuedPackets()
			passed := after.Rules["ips:pass"].Packets - before.Rules["ips:pass"].Packets
			t.Logf("after restart: %d echoes, %d packets passed by the kernel's rule, %d queued", echoes1-echoes0, passed, queued)
			// Both directions of every echo pass the kernel rule; a
			// stray neighbour or multicast packet may be queued, a
			// re-inspected flow would queue its ~2 packets per echo.
			if n := uint64(echoes1 - echoes0); passed < 2*n || n < 10 {
				t.Errorf("allowed connection: %d echoes but %d packets through the pass rule", n, passed)
			}
			if queued > 3 {
				t.Errorf("%d packets queued after the restart with only adopted flows running", queued)
			}
			waitFor(t, 15*time.Second, "a retransmitted ClientHello dropped by the new table", func() bool {
				return d.Stats(t).Rules["ips:drop"].Packets > 0
			})
			if done, err := blocked.completed(); done && err == nil {
				t.Fatal("blocked handshake completed after the restart")
			}
			if dec, ok := ctMark(t, topo, blocked.local); !ok || dec.Action != verdict.Drop {
				t.Errorf("blocked flow's ct mark after the restart: %+v %v", dec, ok)
			}

			// A reload after the restart: the adopted flows keep their
			// decision, new flows follow the new policy.
			writePol("blocked.example", "allowed.example")
			out, ok := d.Reload(t)
			reloaded := time.Now()
			if !ok || !strings.Contains(out, "; 2 flows decided before the restart kept their decision") {
				t.Errorf("reload after restart: ok=%v\n%s", ok, out)
			}
			t.Logf("reload: %s", strings.TrimSpace(out))
			time.Sleep(500 * time.Millisecond)
			if last, _, err := allowed.state(); err != nil || last.Before(reloaded.Add(200*time.Millisecond)) {
				t.Errorf("adopted allowed connection changed by the reload: last echo %v after it, err %v", last.Sub(reloaded), err)
			}
			if err := tlsHandshake(topo.LAN, topo.LAN4(2), wan, "allowed.example", pki, time.Second); err == nil {
				t.Error("new allowed.example connection got through after the reload that drops it")
			}
			if done, err := blocked.completed(); done && err == nil {
				t.Fatal("blocked handshake completed after the reload")
			}

			allowed.Stop()
			if err := d.Stop(); err != nil {
				t.Error(err)
			}
			ports := eventPorts(t, ev2)
			for _, p := range []netip.AddrPort{allowed.local, blocked.local} {
				if ev, seen := ports[p.Port()]; seen {
					t.Errorf("restarted daemon reported an event (%s) for the adopted flow from %v: it inspected it again", ev, p)
				}
			}
			if len(eventPorts(t, ev1)) == 0 && !c.kill {
				t.Error("first daemon wrote no events (the check above would prove nothing)")
			}
		})
	}
}

func replaceArg(args []string, flag, val string) []string {
	out := append([]string{}, args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == flag {
			out[i+1] = val
		}
	}
	return out
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serveTLSEcho runs a TLS echo server on the WAN host (the PKI's
// certificate names allowed.example and blocked.example).
func serveTLSEcho(t *testing.T, topo *harness.Topology, pki *harness.PKI, addr string) {
	conf := &tls.Config{Certificates: []tls.Certificate{pki.Server}}
	harness.Serve(topo.WAN.Listen(t, "tcp", addr), func(c net.Conn) {
		tc := tls.Server(c, conf)
		io.Copy(tc, tc)
	})
}

// tlsHandshake opens a TLS connection with SNI host and closes it.
func tlsHandshake(ns harness.NS, local netip.Addr, addr, host string, pki *harness.PKI, timeout time.Duration) error {
	raw, err := ns.Dial("tcp", local, addr, timeout)
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(timeout))
	return tls.Client(raw, &tls.Config{RootCAs: pki.Roots, ServerName: host}).Handshake()
}

// TestLiveTableNotReplaced: a table that another ips still serves is not
// taken for one a crash left: a second daemon in the same network
// namespace (another --control and --queue-base) refuses to start, and
// the first keeps deciding.
func TestLiveTableNotReplaced(t *testing.T) {
	topo := harness.NewTopology(t)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	if err := harness.PoolPolicy(pol, "pass", map[netip.Addr]string{topo.LAN4(1): "drop"}); err != nil {
		t.Fatal(err)
	}
	d := topo.StartDaemon(t, dir, "--policy", pol)
	wan := topo.WANAddr.String() + ":8080"

	cmd := topo.Bridge.Cmd(harness.Binary(t), "run", "--lan", topo.LANPort, "--wan", topo.WANPort, "--policy", pol,
		"--control", filepath.Join(dir, "second.sock"), "--queue-base", "10", "--queues", "2")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err == nil || !strings.Contains(out.String(), "is in use") {
			t.Errorf("second daemon: %v, want a refusal naming the table in use:\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("second daemon started over a live table:\n%s", out.String())
	}
	before := d.Stats(t).QueuedPackets()
	if err := harness.EchoOnce(topo.LAN, topo.LAN4(0), wan, 2*time.Second); err != nil {
		t.Errorf("first daemon after the refused start: %v", err)
	}
	if err := harness.EchoOnce(topo.LAN, topo.LAN4(1), wan, 500*time.Millisecond); err == nil {
		t.Error("first daemon's drop no longer applies after the refused start")
	}
	if after := d.Stats(t).QueuedPackets(); after <= before {
		t.Errorf("first daemon no longer receives packets (%d, then %d)", before, after)
	}
}
