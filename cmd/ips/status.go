package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"ips/verdict"
)

// runInfo is what "ips status" says about the run beside the counters.
type runInfo struct {
	started time.Time
	mu      sync.Mutex
	policy  policyInfo
	// shapers, when set, describes the shaper classes for ips status
	// (the shaping part's hook; nil: "shapers" is left out).
	shapers func() any
}

type policyInfo struct {
	File     string `json:"file"`
	SHA256   string `json:"sha256"`
	LoadedAt string `json:"loaded_at"`
}

// notePolicy records the policy file just loaded: its hash is the
// policy's version (what an operator compares with the file on disk).
func (i *runInfo) notePolicy(path string) {
	p := policyInfo{File: path, LoadedAt: time.Now().UTC().Format(time.RFC3339)}
	if b, err := os.ReadFile(path); err == nil {
		h := sha256.Sum256(b)
		p.SHA256 = hex.EncodeToString(h[:])
	}
	i.mu.Lock()
	i.policy = p
	i.mu.Unlock()
}

// statusReply is the control socket's answer to "status".
type statusReply struct {
	Version    buildVersion `json:"version"`
	PID        int          `json:"pid"`
	Started    string       `json:"started"`
	UptimeS    float64      `json:"uptime_s"`
	Policy     policyInfo   `json:"policy"`
	KernelPath string       `json:"kernel_path"`
	Fail       string       `json:"fail"`
	// Monitor: the daemon runs with --monitor (nothing enforced);
	// MonitoredPolicies are the policies not enforced ("enforce": false,
	// set or inherited; all of them under --monitor).
	Monitor           bool          `json:"monitor"`
	MonitoredPolicies []int64       `json:"monitored_policies,omitempty"`
	MarkMask          string        `json:"mark_mask"`
	LAN               []string      `json:"lan"`
	WAN               []string      `json:"wan"`
	Queues            []queueStatus `json:"queues"`
	Totals            queueStatus   `json:"totals"`
	Flows             flowsStatus   `json:"flows"`
	Reloads           struct {
		OK     uint64 `json:"ok"`
		Failed uint64 `json:"failed"`
	} `json:"reloads"`
	Events struct {
		Written uint64 `json:"written"`
		Dropped uint64 `json:"dropped"`
	} `json:"events"`
	Shapers any `json:"shapers,omitempty"`
}

type queueStatus struct {
	Queue     int               `json:"queue"`
	Packets   uint64            `json:"packets"`
	Undecided uint64            `json:"undecided"`
	Verdicts  map[string]uint64 `json:"verdicts"`
	// Monitored counts monitored final decisions by would-be verdict
	// (the kernel was told pass); they are not in Verdicts.
	Monitored map[string]uint64 `json:"monitored,omitempty"`
	// FailVerdicts: packets given the fail-mode verdict because the
	// decider failed on them. Packets the kernel lets through unqueued
	// when the queue is full or no listener is bound (fail-open
	// bypass) are not counted by the kernel anywhere ips can read;
	// KernelDropped is their fail-closed counterpart.
	FailVerdicts  uint64 `json:"fail_verdicts"`
	KernelDropped uint64 `json:"kernel_dropped"`
	UserDropped   uint64 `json:"user_dropped"`
	Waiting       uint32 `json:"waiting"`
	ENOBUFS       uint64 `json:"enobufs"`
}

type flowsStatus struct {
	Tracked        int    `json:"tracked"`
	TrackedMax     int    `json:"tracked_max"`
	Conntrack      int    `json:"conntrack"`
	ConntrackMax   int    `json:"conntrack_max"`
	Accounting     bool   `json:"conntrack_accounting"`
	EndedConntrack uint64 `json:"ended_conntrack"`
	EndedUser      uint64 `json:"ended_user"`
	Suppressed     uint64 `json:"ended_suppressed"`
	Overflow       uint64 `json:"track_overflow"`
	// DNSHeld: DNS flows kept queued for their answer (name learning).
	DNSHeld uint64 `json:"dns_held"`
}

func readIntFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return n
}

// status gathers the reply (control socket goroutine).
func (r *runner) status() statusReply {
	var s statusReply
	s.Version = readVersion()
	s.PID = os.Getpid()
	s.Started = r.info.started.UTC().Format(time.RFC3339)
	s.UptimeS = time.Since(r.info.started).Round(time.Millisecond).Seconds()
	r.info.mu.Lock()
	s.Policy = r.info.policy
	r.info.mu.Unlock()
	s.KernelPath = r.d.Capabilities().Queue.String()
	s.Fail = r.k.fail.String()
	s.Monitor = r.cfg.Monitor
	s.MonitoredPolicies = r.brain.Monitored()
	s.MarkMask = fmt.Sprintf("%#08x", r.k.layout.Mask())
	s.LAN, s.WAN = r.cfg.LAN, r.cfg.WAN
	s.Totals.Queue = -1
	s.Totals.Verdicts = map[string]uint64{}
	for _, q := range r.d.Stats() {
		qs := queueStatus{Queue: int(q.Queue), Packets: q.Packets, Undecided: q.Undecided, Verdicts: map[string]uint64{},
			FailVerdicts: q.FailVerdicts, ENOBUFS: q.ENOBUFS}
		for a := verdict.Pass; a <= verdict.Mark; a++ {
			if n := q.DecidedBy(a); n > 0 {
				qs.Verdicts[a.String()] = n
				s.Totals.Verdicts[a.String()] += n
			}
			if n := q.MonitoredBy(a); n > 0 {
				if qs.Monitored == nil {
					qs.Monitored = map[string]uint64{}
				}
				if s.Totals.Monitored == nil {
					s.Totals.Monitored = map[string]uint64{}
				}
				qs.Monitored[a.String()] = n
				s.Totals.Monitored[a.String()] += n
			}
		}
		if q.Kernel.Valid {
			qs.KernelDropped, qs.UserDropped, qs.Waiting = q.Kernel.Dropped, q.Kernel.UserDropped, q.Kernel.Waiting
		}
		s.Queues = append(s.Queues, qs)
		t := &s.Totals
		t.Packets += qs.Packets
		t.Undecided += qs.Undecided
		t.FailVerdicts += qs.FailVerdicts
		t.KernelDropped += qs.KernelDropped
		t.UserDropped += qs.UserDropped
		t.Waiting += qs.Waiting
		t.ENOBUFS += qs.ENOBUFS
	}
	s.Flows.Conntrack = readIntFile("/proc/sys/net/netfilter/nf_conntrack_count")
	s.Flows.ConntrackMax = readIntFile("/proc/sys/net/netfilter/nf_conntrack_max")
	s.Flows.Accounting = readIntFile("/proc/sys/net/netfilter/nf_conntrack_acct") == 1
	if t := r.tr; t != nil {
		s.Flows.Tracked, s.Flows.TrackedMax = t.count(), t.max
		s.Flows.EndedConntrack, s.Flows.EndedUser = t.stats.endedKernel.Load(), t.stats.endedUser.Load()
		s.Flows.Suppressed, s.Flows.Overflow = t.stats.suppressed.Load(), t.stats.overflow.Load()
	}
	s.Flows.DNSHeld = r.stats.dnsHeld.Load()
	s.Reloads.OK, s.Reloads.Failed = r.stats.reloadsOK.Load(), r.stats.reloadsFailed.Load()
	s.Events.Written, s.Events.Dropped = r.ev.written.Load(), r.ev.dropped.Load()
	if r.info.shapers != nil {
		s.Shapers = r.info.shapers()
	}
	return s
}

// writeFlows answers "flows": one JSON object per live flow.
func (r *runner) writeFlows(w io.Writer) {
	if r.tr == nil {
		fmt.Fprintln(w, "error: the flow tracker is not running")
		return
	}
	fl, err := r.tr.snapshot()
	if err != nil {
		fmt.Fprintf(w, "error: %v\n", err)
		return
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range fl {
		enc.Encode(&fl[i])
	}
	bw.Flush()
}

// controlDial connects to the daemon's control socket and sends cmd.
func controlDial(path, cmd string, stderr io.Writer) (net.Conn, bool) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "ips %s: cannot reach the daemon at %s: %v (is ips run running? its --control?)\n", cmd, path, err)
		return nil, false
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
		fmt.Fprintf(stderr, "ips %s: %v\n", cmd, err)
		c.Close()
		return nil, false
	}
	return c, true
}

func parseClientFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "ips %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2
	}
	return -1
}

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	control := fs.String("control", defaultControl, "control socket `PATH` of the running ips (its --control)")
	asJSON := fs.Bool("json", false, "print the daemon's answer as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ips status [--json] [--control PATH]

Ask the running "ips run": version, uptime, the policy file and its
SHA-256, the kernel queue path in use, per-queue packets, verdicts and
drops, and how full the flow tables are.

Flags:
`)
		fs.PrintDefaults()
	}
	if code := parseClientFlags(fs, args); code >= 0 {
		return code
	}
	c, ok := controlDial(*control, "status", stderr)
	if !ok {
		return 1
	}
	defer c.Close()
	data, err := io.ReadAll(c)
	if err != nil {
		fmt.Fprintf(stderr, "ips status: %v\n", err)
		return 1
	}
	var s statusReply
	if err := json.Unmarshal(data, &s); err != nil {
		fmt.Fprintf(stderr, "ips status: unexpected answer (an older ips?): %s\n", strings.TrimSpace(string(data)))
		return 1
	}
	if *asJSON {
		stdout.Write(data)
		return 0
	}
	printStatus(stdout, &s)
	return 0
}

func printStatus(w io.Writer, s *statusReply) {
	fmt.Fprintf(w, "%s, pid %d, up %v (since %s)\n", s.Version, s.PID, time.Duration(s.UptimeS*float64(time.Second)).Round(time.Second), s.Started)
	fmt.Fprintf(w, "policy      %s (sha256 %.16s…, loaded %s); %d reloads ok, %d refused\n", s.Policy.File, s.Policy.SHA256, s.Policy.LoadedAt, s.Reloads.OK, s.Reloads.Failed)
	fmt.Fprintf(w, "inline      lan %s, wan %s; kernel path %s; fail %s; mark mask %s\n", strings.Join(s.LAN, ","), strings.Join(s.WAN, ","), s.KernelPath, s.Fail, s.MarkMask)
	switch {
	case s.Monitor:
		fmt.Fprintf(w, "mode        MONITOR (--monitor): decisions reported with \"enforced\": false, every flow passes\n")
	case len(s.MonitoredPolicies) > 0:
		ids := make([]string, len(s.MonitoredPolicies))
		for i, id := range s.MonitoredPolicies {
			ids[i] = strconv.FormatInt(id, 10)
		}
		fmt.Fprintf(w, "mode        enforce; monitor only (\"enforce\": false) for policies %s\n", strings.Join(ids, ", "))
	default:
		fmt.Fprintf(w, "mode        enforce\n")
	}
	acct := "on"
	if !s.Flows.Accounting {
		acct = "OFF (byte counts unavailable)"
	}
	fmt.Fprintf(w, "flows       %d tracked (max %d, %d not tracked: list full); conntrack %d of %d; accounting %s\n",
		s.Flows.Tracked, s.Flows.TrackedMax, s.Flows.Overflow, s.Flows.Conntrack, s.Flows.ConntrackMax, acct)
	fmt.Fprintf(w, "ended       %d with conntrack counts, %d with user-space counts, %d over the rate limit\n", s.Flows.EndedConntrack, s.Flows.EndedUser, s.Flows.Suppressed)
	fmt.Fprintf(w, "events      %d written, %d dropped\n", s.Events.Written, s.Events.Dropped)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "queue\tpackets\tundecided\tverdicts\tfail\tkernel drop\tuser drop\twaiting\tenobufs\t")
	row := func(name string, q queueStatus) {
		var vs []string
		for k, v := range q.Verdicts {
			vs = append(vs, fmt.Sprintf("%s %d", k, v))
		}
		for k, v := range q.Monitored {
			vs = append(vs, fmt.Sprintf("monitor:%s %d", k, v))
		}
		sort.Strings(vs)
		v := strings.Join(vs, ", ")
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t\n", name, q.Packets, q.Undecided, v, q.FailVerdicts, q.KernelDropped, q.UserDropped, q.Waiting, q.ENOBUFS)
	}
	for _, q := range s.Queues {
		row(strconv.Itoa(q.Queue), q)
	}
	row("all", s.Totals)
	tw.Flush()
	if s.Shapers != nil {
		b, _ := json.Marshal(s.Shapers)
		fmt.Fprintf(w, "shapers     %s\n", b)
	}
}

// flowFilter is ips flows' selection.
type flowFilter struct {
	app, pool, verdict, host string
}

// match: --app matches the application name or one of its parts
// (TLS.YouTube matches TLS, YouTube and TLS.YouTube), --host the server
// name or a domain above it (www.example.com matches example.com) or
// either address, --pool and --verdict exactly; all case-insensitive.
func (f flowFilter) match(l *liveFlow) bool {
	if f.app != "" {
		ok := strings.EqualFold(l.ApplicationName, f.app)
		for _, p := range strings.Split(l.ApplicationName, ".") {
			ok = ok || strings.EqualFold(p, f.app)
		}
		if !ok {
			return false
		}
	}
	if f.pool != "" && !strings.EqualFold(l.Pool, f.pool) {
		return false
	}
	if f.verdict != "" && !strings.EqualFold(l.Verdict, f.verdict) {
		return false
	}
	if f.host != "" {
		h := strings.ToLower(strings.TrimSuffix(f.host, "."))
		n := strings.ToLower(l.RequestedServerName)
		if n != h && !strings.HasSuffix(n, "."+h) && l.SrcIP != f.host && l.DstIP != f.host {
			return false
		}
	}
	return true
}

func cmdFlows(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flows", flag.ContinueOnError)
	fs.SetOutput(stderr)
	control := fs.String("control", defaultControl, "control socket `PATH` of the running ips (its --control)")
	asJSON := fs.Bool("json", false, "one JSON object per flow (nfstream field names), instead of a table")
	var f flowFilter
	fs.StringVar(&f.app, "app", "", "only flows of application `A` (TLS.YouTube matches YouTube, TLS and TLS.YouTube)")
	fs.StringVar(&f.pool, "pool", "", "only flows of LAN hosts in pool `P`")
	fs.StringVar(&f.verdict, "verdict", "", "only flows with verdict `V` (pass, drop, reject, shape, mark)")
	fs.StringVar(&f.host, "host", "", "only flows to server name `H` or a name under it, or with address H at either end")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ips flows [--json] [--app A] [--pool P] [--verdict V] [--host H] [--control PATH]

List the running daemon's live decided flows: application, server name,
pool, verdict, bytes and packets both ways as conntrack counts them (every
packet, not only those ips inspected), age and the explanation of the
decision. Flows still being inspected are not listed.

Flags:
`)
		fs.PrintDefaults()
	}
	if code := parseClientFlags(fs, args); code >= 0 {
		return code
	}
	c, ok := controlDial(*control, "flows", stderr)
	if !ok {
		return 1
	}
	defer c.Close()
	var flows []liveFlow
	var raw [][]byte
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if strings.HasPrefix(string(line), "error:") {
			fmt.Fprintf(stderr, "ips flows: %s\n", line)
			return 1
		}
		var l liveFlow
		if err := json.Unmarshal(line, &l); err != nil {
			fmt.Fprintf(stderr, "ips flows: unexpected answer (an older ips?): %s\n", line)
			return 1
		}
		if f.match(&l) {
			flows = append(flows, l)
			raw = append(raw, append([]byte(nil), line...))
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "ips flows: %v\n", err)
		return 1
	}
	if *asJSON {
		for _, b := range raw {
			stdout.Write(append(b, '\n'))
		}
		return 0
	}
	sort.SliceStable(flows, func(i, j int) bool { return flows[i].BidirectionalBytes > flows[j].BidirectionalBytes })
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROTO\tCLIENT\tSERVER\tAPPLICATION\tHOST\tPOOL\tVERDICT\tUP\tDOWN\tAGE\tEXPLAIN")
	for _, l := range flows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", protoName(l.Protocol),
			net.JoinHostPort(l.SrcIP, strconv.Itoa(int(l.SrcPort))), net.JoinHostPort(l.DstIP, strconv.Itoa(int(l.DstPort))),
			dash(l.ApplicationName), dash(l.RequestedServerName), dash(l.Pool), dash(l.verdictCell()),
			humanBytes(l.Src2DstBytes), humanBytes(l.Dst2SrcBytes), (time.Duration(l.AgeMS) * time.Millisecond).Round(time.Second), l.Explain)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d flows\n", len(flows))
	return 0
}

func protoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	case 58:
		return "icmp6"
	case 132:
		return "sctp"
	}
	return strconv.Itoa(int(p))
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// verdictCell is the verdict column: a monitored decision's would-be
// verdict is marked, since the flow passes.
func (r *flowRecord) verdictCell() string {
	if r.Enforced != nil && !*r.Enforced && r.Verdict != "" {
		return r.Verdict + "(monitor)"
	}
	return r.Verdict
}
