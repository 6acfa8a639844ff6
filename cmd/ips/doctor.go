package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"time"

	"ips/nfq"
	"ips/verdict"
)

// cmdDoctor probes the kernel for what "ips run" needs and prints each
// check with the fix for what is missing.
func cmdDoctor(args []string, stdout, stderr io.Writer) int {
	var cfg runConfig
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "read --lan, --wan, --queues, --queue-base and --mark-mask from the run config `FILE`")
	cleanup := fs.Bool("cleanup", false, "remove the nftables tables inet ips and netdev ips (left by a crash or a fail-closed stop), put the ports' qdiscs back as they were before ips shaped them (from the state file in --state-dir), and exit")
	noBind := fs.Bool("no-bind", false, "do not try to bind the queues")
	cfg.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: ips doctor [flags]

Check the kernel for everything "ips run" needs, with the configuration's
interfaces and queues, and print each check with the fix for what is
missing. Run it in the network namespace ips will run in. Exit status 1
when a required check fails. While an ips runs (it answers on --control),
its queues and nftables table are reported as in use by it (with its pid),
not as failures, and --cleanup refuses to remove them.

Flags (the run flags that matter here, plus):
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	// A running ips holds its queues and its table: they are in use, not
	// failures, and --cleanup must not pull them from under it.
	running := findRunning(cfg.Control)
	if *cleanup {
		if running != nil {
			fmt.Fprintf(stderr, "ips doctor --cleanup: %s: stop it first (cleanup would remove the rules and qdiscs it is using)\n", running)
			return 1
		}
		status := 0
		removed, err := nfq.RemoveTable()
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "ips doctor: %v\n", err)
			status = 1
		case removed:
			fmt.Fprintln(stdout, "removed nftables table inet ips: traffic is no longer queued")
		default:
			fmt.Fprintln(stdout, "no nftables table inet ips: nothing to remove")
		}
		if status == 0 {
			status = cleanupShaping(cfg.StateDir, stdout, stderr)
		}
		return status
	}
	if *config != "" {
		if err := loadRunConfig(*config, &cfg); err != nil {
			fmt.Fprintf(stderr, "ips doctor: %v\n", err)
			return 2
		}
	}
	layout, _ := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	if m, err := strconv.ParseUint(cfg.MarkMask, 0, 32); err == nil {
		if l, err := verdict.NewMarkLayout(uint32(m)); err == nil {
			layout = l
		}
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stdout, "note: not root; most checks need CAP_NET_ADMIN and will fail")
	}
	// With a running ips, binding its queues can only fail (EBUSY): they
	// are probed below, queue by queue, only where it does not hold them.
	dg, err := nfq.Diagnose(cfg.LAN, cfg.WAN, layout, uint16(cfg.QueueBase), cfg.Queues, !*noBind && running == nil)
	if err != nil {
		fmt.Fprintf(stderr, "ips doctor: %v\n", err)
		return 1
	}
	status := 0
	line := func(ok bool, required bool, name, detail, fix string) {
		mark := "ok  "
		if !ok {
			mark = "warn"
			if required {
				mark = "FAIL"
				status = 1
			}
		}
		fmt.Fprintf(stdout, "%s  %s: %s\n", mark, name, detail)
		if !ok {
			fmt.Fprintf(stdout, "      fix: %s\n", fix)
		}
	}
	switch {
	case len(cfg.LAN) == 0 || len(cfg.WAN) == 0:
		line(false, false, "interfaces", "no --lan/--wan given: bridge checks skipped", "pass the --lan and --wan of ips run (or --config)")
	case dg.PortsErr != nil:
		line(false, true, "interfaces", dg.PortsErr.Error(), "name existing interfaces: bridge ports or routed interfaces, not the bridge itself")
	default:
		for _, p := range dg.Ports {
			kind := "routed interface (iifname/oifname)"
			if p.BridgePort {
				kind = "port of bridge " + p.Bridge
			}
			line(true, true, "interface "+p.Name, kind, "")
		}
	}
	for _, p := range dg.Probes {
		line(p.OK, p.Required, p.Name, p.Detail, p.Fix)
	}
	if running != nil {
		fmt.Fprintf(stdout, "info  %s: its queues and nftables table are in use by it\n", running)
		queues := cfg.Queues
		if queues <= 0 {
			queues = runtime.NumCPU()
		}
		for q := cfg.QueueBase; q < cfg.QueueBase+queues; q++ {
			switch {
			case running.holds(q):
				line(true, true, fmt.Sprintf("NFQUEUE %d", q), "in use by "+running.who(), "")
			case !*noBind:
				err := nfq.ProbeBind(uint16(q))
				line(err == nil, true, fmt.Sprintf("NFQUEUE %d bindable", q), errDetail(err, "free"),
					"another process holds the queue (see /proc/net/netfilter/nfnetlink_queue): the running ips does not, so check its --queues/--queue-base")
			}
		}
	}
	fmt.Fprintf(stdout, "info  fail mode %s: %s\n", cfg.Fail, failNote(cfg.Fail))
	switch {
	case dg.TablePresent && running != nil:
		fmt.Fprintf(stdout, "info  nftables table inet ips is present: in use by %s\n", running.who())
	case dg.TablePresent:
		fmt.Fprintln(stdout, "info  nftables table inet ips is present, and no ips answers on "+cfg.Control+" (an ips with another --control, or left by a crash or fail-closed stop; ips doctor --cleanup removes it)")
	}
	for _, q := range dg.Queues {
		who := ""
		if running != nil && running.holds(int(q.Queue)) {
			who = ", in use by " + running.who()
		}
		fmt.Fprintf(stdout, "info  queue %d bound by netlink port %d%s: waiting %d, dropped %d (queue full), user-dropped %d (socket full)\n",
			q.Queue, q.PortID, who, q.Waiting, q.Dropped, q.UserDropped)
	}
	fmt.Fprintf(stdout, "info  %d conntrack entries carry a decision under mask %#08x\n", dg.Decided, layout.Mask())
	if cfg.Policy != "" {
		doctorShaping(&cfg, line, stdout)
	}
	return status
}

// runningIPS is an ips run that answers on the control socket.
type runningIPS struct {
	control string
	pid     int
	path    string       // kernel queue path in use
	queues  map[int]bool // the NFQUEUE numbers it holds
}

func (r *runningIPS) String() string {
	if r.pid == 0 {
		return "an ips answers on " + r.control + " (its status did not read)"
	}
	s := "ips is running (pid " + strconv.Itoa(r.pid) + ", control " + r.control
	if r.path != "" {
		s += ", kernel path " + r.path
	}
	return s + ")"
}

// holds reports whether the daemon holds queue q; with its status
// unknown, every queue is taken to be its own.
func (r *runningIPS) holds(q int) bool { return r.pid == 0 || r.queues[q] }

func (r *runningIPS) who() string {
	if r.pid == 0 {
		return "the ips at " + r.control
	}
	return "the running ips (pid " + strconv.Itoa(r.pid) + ")"
}

// findRunning asks the control socket at path for the daemon's status;
// nil when nothing answers there. A socket that accepts but whose answer
// does not read (an ips still starting, an older one) still means a
// daemon holds it; its queues are then unknown.
func findRunning(path string) *runningIPS {
	if path == "" {
		return nil
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil
	}
	defer c.Close()
	r := &runningIPS{control: path, queues: map[int]bool{}}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "status\n"); err != nil {
		return r
	}
	var s statusReply
	if err := json.NewDecoder(c).Decode(&s); err != nil {
		return r
	}
	r.pid, r.path = s.PID, s.KernelPath
	for _, q := range s.Queues {
		r.queues[q.Queue] = true
	}
	return r
}

func errDetail(err error, ok string) string {
	if err == nil {
		return ok
	}
	return err.Error()
}

func failNote(s string) string {
	m, err := verdict.ParseFailMode(s)
	if err != nil {
		return err.Error()
	}
	return nfq.FailModeNote(m)
}
