package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"ips/dpi"
	"ips/nfq"
	"ips/verdict"
)

// runConfig is "ips run"'s configuration: the JSON config file's keys and
// the flags are the same settings (flags given on the command line win).
type runConfig struct {
	Policy    string   `json:"policy"`
	LAN       []string `json:"lan"`
	WAN       []string `json:"wan"`
	Queues    int      `json:"queues"`
	QueueBase int      `json:"queue_base"`
	QueueLen  int      `json:"queue_len"`
	Fail      string   `json:"fail"`
	GeoIP     string   `json:"geoip"`
	GeoIPASN  string   `json:"geoip_asn"`
	Events    string   `json:"events"`
	Metrics   string   `json:"metrics"`
	// ArrivalStamps: see the --arrival-stamps flag.
	ArrivalStamps bool   `json:"arrival_stamps"`
	MarkMask      string `json:"mark_mask"`
	Control       string `json:"control"`
	LogLevel      string `json:"log_level"`
	LogFormat     string `json:"log_format"`
	// MaxFlows: see the --max-flows flag (0: sized from memory).
	MaxFlows int `json:"max_flows"`
	// Shaping: see the --wan-rate, --lan-rate, --take-over-qdisc and
	// --state-dir flags.
	WANRate       string `json:"wan_rate"`
	LANRate       string `json:"lan_rate"`
	TakeOverQdisc bool   `json:"take_over_qdisc"`
	StateDir      string `json:"state_dir"`
	// FlowIdle: see the --flow-idle flag.
	FlowIdle string `json:"flow_idle"`
	// EndedRate: see the --ended-events-rate flag.
	EndedRate int `json:"ended_events_rate"`
	// Monitor: see the --monitor flag.
	Monitor bool `json:"monitor"`
}

const defaultControl = "/run/ips.sock"

const runUsage = `Usage: ips run [flags]

Run inline: queue undecided traffic crossing between the LAN and WAN
interfaces (NFQUEUE), classify it, decide with the policy, and save each
final decision in the connection's conntrack mark so the kernel handles the
rest of the flow. Needs root (CAP_NET_ADMIN).

Every flag is also a key of the JSON config file (--config): the flag name
with dashes as underscores, lists as JSON arrays, e.g.
  {"policy": "/etc/ips/policy.jsonl", "lan": ["lan0"], "wan": ["wan0"],
   "fail": "closed", "metrics": "127.0.0.1:9420", "queue_base": 0}
Flags given on the command line override the file.

Signals: SIGHUP reloads the policy (as "ips reload" does); SIGINT and SIGTERM
stop. Fail mode open: the table is removed on stop, and a dead daemon lets
traffic through (queue bypass). Fail mode closed: the table stays after the
daemon stops or dies, so undecided traffic is dropped until ips runs again
("ips doctor --cleanup" removes it); already decided flows keep their
verdicts either way.

Flags:
`

func (c *runConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Policy, "policy", "", "policy `FILE` (nProbe IPS lines or the JSON document; check it with ips check)")
	fs.Func("lan", "LAN side `IFACE[,IFACE]`: bridge ports or routed interfaces facing the LAN hosts", func(s string) error {
		c.LAN = splitList(s)
		return nil
	})
	fs.Func("wan", "WAN side `IFACE[,IFACE]`: bridge ports or routed interfaces facing the Internet", func(s string) error {
		c.WAN = splitList(s)
		return nil
	})
	fs.IntVar(&c.Queues, "queues", runtime.NumCPU(), "`N` queues and workers; the kernel hashes addresses and IP protocol (not ports) to pick the queue, so each flow, and every flow of one host pair, stays on one queue")
	fs.IntVar(&c.QueueBase, "queue-base", 0, "first NFQUEUE number `N`; queues N..N+queues-1 are used")
	fs.IntVar(&c.QueueLen, "queue-len", 4096, "kernel queue length per queue (packets waiting for a verdict); beyond it the fail mode applies")
	fs.IntVar(&c.MaxFlows, "max-flows", 0, "flows tracked at once, `N` in total across the queues (split evenly per queue); when full, idle undecided flows are evicted first, then decided ones (their verdicts stay in conntrack). 0: sized from memory, MemTotal/128 at 1 KiB per flow, 4096..1048576")
	fs.StringVar(&c.Fail, "fail", "open", "fail mode `open|closed`: what happens to undecided traffic when ips is down, overloaded or fails")
	fs.StringVar(&c.GeoIP, "geoip", "", "GeoIP location `FILE` (.mmdb: GeoIP2/GeoLite2, DB-IP lite, IPinfo lite, ip-location-db) for country/continent rules")
	fs.StringVar(&c.GeoIPASN, "geoip-asn", "", "GeoIP ASN `FILE` (.mmdb: GeoLite2-ASN, DB-IP ASN lite, ip-location-db asn) for asn rules")
	fs.StringVar(&c.Events, "events", "", "write NDJSON flow events (decided, ended) to `FILE` or to unix:PATH (a listening stream socket)")
	fs.StringVar(&c.Metrics, "metrics", "", "serve Prometheus metrics on `ADDR` (host:port), path /metrics")
	fs.BoolVar(&c.ArrivalStamps, "arrival-stamps", false, "stamp every packet on arrival so ips_queue_added_latency_seconds measures the delay the queue adds, queue wait included; the kernel then stamps all received packets, system-wide (measured: a fifth less throughput on a veth bridge)")
	fs.StringVar(&c.MarkMask, "mark-mask", fmt.Sprintf("%#08x", verdict.DefaultMarkMask), "packet and ct mark bits ips may use, one contiguous run of at least 5 bits (`HEX`); other bits are left alone")
	fs.StringVar(&c.Control, "control", defaultControl, "control socket `PATH` (ips reload talks to it)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log `format`: text or json")
	fs.StringVar(&c.WANRate, "wan-rate", "100gbit", "line `RATE` of each WAN port (upload): the HTB root class shapers borrow from (tc units: 1gbit, 500mbit)")
	fs.StringVar(&c.LANRate, "lan-rate", "100gbit", "line `RATE` of each LAN port (download)")
	fs.BoolVar(&c.TakeOverQdisc, "take-over-qdisc", false, "shape ports that already have a root qdisc of their own (it is put back on stop); without it such ports are reported and left alone")
	fs.StringVar(&c.StateDir, "state-dir", "/run/ips", "`DIR` for the state file that records the ports' qdiscs before shaping (ips doctor --cleanup reads it after a crash)")
	fs.IntVar(&c.EndedRate, "ended-events-rate", 2000, "at most `N` ended events a second from conntrack (a flood of short flows); the rest are counted in ips_flow_events_suppressed_total")
	fs.BoolVar(&c.Monitor, "monitor", false, "monitor mode: judge, explain, count and report every flow as the policy says, but let it pass (unshaped); records say \"enforced\": false with the would-be verdict. Per policy: \"enforce\": false")
	fs.StringVar(&c.FlowIdle, "flow-idle", "30s", "forget a flow in user space after this `DURATION` without a packet there (a decided flow's packets stay in the kernel: its \"ended\" event comes from conntrack, not from this timer)")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// loadRunConfig reads a config file strictly: unknown keys are errors,
// reported with their line and column.
func loadRunConfig(path string, c *runConfig) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		off := dec.InputOffset()
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			off = se.Offset
		case errors.As(err, &te):
			off = te.Offset
		default:
			// encoding/json reports an unknown key without its place:
			// find the key in the text.
			if _, name, ok := strings.Cut(err.Error(), `unknown field "`); ok {
				name = strings.TrimSuffix(name, `"`)
				if i := bytes.Index(data, []byte(`"`+name+`"`)); i >= 0 {
					off = int64(i) + 1
				}
			}
		}
		line, col := lineCol(data, off)
		return fmt.Errorf("%s:%d:%d: %v (keys are the run flags with _ for -, e.g. queue_base)", path, line, col, err)
	}
	return nil
}

func lineCol(b []byte, off int64) (int, int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line := 1 + bytes.Count(b[:off], []byte{'\n'})
	col := int(off) - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}

// parseRunArgs combines the config file and the flags.
func parseRunArgs(args []string, stderr io.Writer) (*runConfig, int) {
	var fromFlags runConfig
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "JSON config `FILE` with the same settings as the flags")
	fromFlags.flags(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, runUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ips run: unexpected argument %q (flags only; see ips run --help)\n", fs.Arg(0))
		return nil, 2
	}
	cfg := fromFlags
	if *config != "" {
		// Defaults first, then the file, then the flags set explicitly.
		var def runConfig
		def.flags(flag.NewFlagSet("defaults", flag.ContinueOnError))
		cfg = def
		if err := loadRunConfig(*config, &cfg); err != nil {
			fmt.Fprintf(stderr, "ips run: %v\n", err)
			return nil, 2
		}
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "policy":
				cfg.Policy = fromFlags.Policy
			case "lan":
				cfg.LAN = fromFlags.LAN
			case "wan":
				cfg.WAN = fromFlags.WAN
			case "queues":
				cfg.Queues = fromFlags.Queues
			case "queue-base":
				cfg.QueueBase = fromFlags.QueueBase
			case "queue-len":
				cfg.QueueLen = fromFlags.QueueLen
			case "max-flows":
				cfg.MaxFlows = fromFlags.MaxFlows
			case "fail":
				cfg.Fail = fromFlags.Fail
			case "geoip":
				cfg.GeoIP = fromFlags.GeoIP
			case "geoip-asn":
				cfg.GeoIPASN = fromFlags.GeoIPASN
			case "events":
				cfg.Events = fromFlags.Events
			case "metrics":
				cfg.Metrics = fromFlags.Metrics
			case "mark-mask":
				cfg.MarkMask = fromFlags.MarkMask
			case "control":
				cfg.Control = fromFlags.Control
			case "log-level":
				cfg.LogLevel = fromFlags.LogLevel
			case "log-format":
				cfg.LogFormat = fromFlags.LogFormat
			case "wan-rate":
				cfg.WANRate = fromFlags.WANRate
			case "lan-rate":
				cfg.LANRate = fromFlags.LANRate
			case "take-over-qdisc":
				cfg.TakeOverQdisc = fromFlags.TakeOverQdisc
			case "state-dir":
				cfg.StateDir = fromFlags.StateDir
			case "flow-idle":
				cfg.FlowIdle = fromFlags.FlowIdle
			case "ended-events-rate":
				cfg.EndedRate = fromFlags.EndedRate
			case "monitor":
				cfg.Monitor = fromFlags.Monitor
			}
		})
	}
	return &cfg, -1
}

// checked is a runConfig validated into the types the parts need.
type checked struct {
	fail     verdict.FailMode
	layout   verdict.MarkLayout
	level    slog.Level
	flowIdle time.Duration
}

func (c *runConfig) check() (checked, error) {
	var k checked
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Policy == "" {
		bad("--policy: required: the policy file to enforce (validate it with ips check FILE)")
	}
	if len(c.LAN) == 0 {
		bad("--lan: required: the interface(s) facing the LAN, e.g. --lan lan0 (bridge ports or routed interfaces)")
	}
	if len(c.WAN) == 0 {
		bad("--wan: required: the interface(s) facing the WAN, e.g. --wan wan0")
	}
	if c.Queues < 1 || c.Queues > 1024 {
		bad("--queues %d: want 1..1024", c.Queues)
	}
	if c.QueueBase < 0 || c.QueueBase+max(c.Queues, 1) > 0x10000 {
		bad("--queue-base %d: queues %d..%d must lie within 0..65535", c.QueueBase, c.QueueBase, c.QueueBase+c.Queues-1)
	}
	if c.QueueLen < 1 {
		bad("--queue-len %d: want at least 1", c.QueueLen)
	}
	if err := checkMaxFlows(c.MaxFlows, c.Queues); err != nil {
		bad("%v", err)
	}
	var err error
	if k.fail, err = verdict.ParseFailMode(c.Fail); err != nil {
		bad("--fail: %v", err)
	}
	if m, err := strconv.ParseUint(c.MarkMask, 0, 32); err != nil {
		bad("--mark-mask %q: want a 32-bit number such as 0x00ff0000", c.MarkMask)
	} else if k.layout, err = verdict.NewMarkLayout(uint32(m)); err != nil {
		bad("--mark-mask: %v", err)
	}
	if err := k.level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("--log-format %q: want text or json", c.LogFormat)
	}
	if k.flowIdle, err = time.ParseDuration(c.FlowIdle); err != nil || k.flowIdle < time.Second {
		bad("--flow-idle %q: want a duration of at least 1s, e.g. 30s", c.FlowIdle)
	}
	if c.EndedRate < 1 {
		bad("--ended-events-rate %d: want at least 1", c.EndedRate)
	}
	if c.Control == "" {
		bad("--control: empty: give a path for the control socket")
	}
	if _, err := c.shapingPorts(); err != nil {
		bad("%v", err)
	}
	for _, f := range []struct{ flag, path string }{{"--policy", c.Policy}, {"--geoip", c.GeoIP}, {"--geoip-asn", c.GeoIPASN}} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(f.path); err != nil {
			bad("%s %s: %v", f.flag, f.path, errors.Unwrap(err))
		} else if st.IsDir() {
			bad("%s %s: is a directory, want a file", f.flag, f.path)
		}
	}
	return k, errors.Join(errs...)
}

func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opt := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opt))
	}
	return slog.New(slog.NewTextHandler(w, opt))
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	cfg, code := parseRunArgs(args, stderr)
	if cfg == nil {
		return code
	}
	k, err := cfg.check()
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "ips run: %s\n", line)
		}
		return 2
	}
	log := newLogger(cfg.LogFormat, k.level, stderr)
	r := &runner{cfg: cfg, k: k, log: log}
	// Catch the signals before anything is set up: a SIGTERM that arrives
	// while starting (or just after "ips running") must stop ips the
	// fail mode's way, not kill it with the table half-managed.
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	if err := r.start(); err != nil {
		r.shutdown()
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "ips run: %s\n", line)
		}
		return 1
	}
	return r.wait(sig)
}

// runner is the running daemon's wiring.
type runner struct {
	cfg *runConfig
	// maxFlows is the flow bound in force (all queues), for the memory limit.
	maxFlows int
	k        checked
	log      *slog.Logger
	ev       *eventSink
	tr       *flowTracker
	brain    brain
	d        *nfq.Daemon
	shape    *shapingRun
	ctl      net.Listener
	http     *http.Server
	stats    runStats
	info     runInfo
	mu       sync.Mutex // one reload at a time
}

// start runs the start order: events sink, pools and policy (the brain),
// the inline path, then the metrics and control endpoints.
func (r *runner) start() error {
	if err := r.claimControl(); err != nil {
		return err
	}
	var err error
	if r.ev, err = openEvents(r.cfg.Events, r.log); err != nil {
		return err
	}
	// The per-host shapers' hook is wired before the brain exists; it
	// reads r.shape, set below before any queue runs.
	onDecided := func(_ *dpi.Flow, d verdict.Decision, lan netip.Addr) {
		if r.shape != nil {
			r.shape.decided(d, lan)
		}
	}
	if r.tr, err = newFlowTracker(r.ev, r.k.layout, r.cfg.EndedRate, r.log); err != nil {
		return err
	}
	r.ev.tr = r.tr
	maxFlows := r.cfg.MaxFlows
	if maxFlows == 0 {
		maxFlows = defaultMaxFlows(memTotal())
	}
	r.log.Info("flow table", "max_flows", maxFlows, "per_queue", perQueueFlows(maxFlows, r.cfg.Queues))
	b, warns, err := newBrain(brainOptions{Policy: r.cfg.Policy, GeoIP: r.cfg.GeoIP, GeoIPASN: r.cfg.GeoIPASN, MarkMask: r.k.layout.Mask(), Fail: r.k.fail, Monitor: r.cfg.Monitor,
		MaxFlows: perQueueFlows(maxFlows, r.cfg.Queues), OnDecided: onDecided, FlowIdle: r.k.flowIdle, DNSHeld: &r.stats.dnsHeld}, r.ev, r.log)
	for _, w := range warns {
		r.log.Warn("policy", "warning", w)
	}
	if err != nil {
		return fmt.Errorf("--policy %s: %w", r.cfg.Policy, err)
	}
	r.brain = b
	r.maxFlows = maxFlows
	if l := setMemoryLimit(maxFlows); l > 0 {
		r.log.Info("go memory limit (soft)", "bytes", l, "for_flows", maxFlows, "override", "GOMEMLIMIT")
	}
	r.info.started = time.Now()
	r.info.notePolicy(r.cfg.Policy)
	for _, l := range b.GeoIP() {
		r.log.Info("policy", "geoip", l)
	}
	// Shaping before the queues: a flow decided "shape" finds its class.
	if r.shape, err = newShapingRun(r.cfg, r.k.layout, r.log); err != nil {
		return err
	}
	if err := r.shape.apply(b.ShapePlan()); err != nil {
		return err
	}
	r.d, err = nfq.Start(nfq.Config{
		QueueBase: uint16(r.cfg.QueueBase), Queues: r.cfg.Queues, Fail: r.k.fail, Layout: r.k.layout,
		LAN: r.cfg.LAN, WAN: r.cfg.WAN, MaxQueueLen: uint32(r.cfg.QueueLen), ArrivalStamps: r.cfg.ArrivalStamps,
		ShapeClasses: b.ShapeClasses(), NewDecider: b.NewDecider, Log: r.log,
	})
	if err != nil {
		return err
	}
	r.tr.start()
	if r.cfg.Metrics != "" {
		if r.http, err = serveMetrics(r.cfg.Metrics, newCollector(r.d, r.ev, &r.stats), r.log, newShapingCollector(r.shape)); err != nil {
			return err
		}
	}
	go r.serveControl()
	if r.cfg.Monitor {
		r.log.Warn("monitor mode: decisions are reported (\"enforced\": false), not enforced; every flow passes")
	}
	r.log.Info("ips running", "policy", r.cfg.Policy, "control", r.cfg.Control, "pid", os.Getpid(), "monitor", r.cfg.Monitor)
	return nil
}

// claimControl makes the control socket, refusing to start when another
// ips answers on it (two daemons would fight over the table).
func (r *runner) claimControl() error {
	if c, err := net.DialTimeout("unix", r.cfg.Control, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("--control %s: another ips is running (it answers on the control socket); stop it or give another --control and --queue-base", r.cfg.Control)
	}
	_ = os.Remove(r.cfg.Control) // stale, from a crash
	// Root only from the first instant (the socket answers status and
	// flows, and reloads): no window between bind and chmod.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", r.cfg.Control)
	syscall.Umask(old)
	if err != nil {
		return fmt.Errorf("--control %s: %w", r.cfg.Control, err)
	}
	_ = os.Chmod(r.cfg.Control, 0o600)
	r.ctl = ln
	return nil
}

func (r *runner) wait(sig chan os.Signal) int {
	for s := range sig {
		if s == syscall.SIGHUP {
			r.log.Info("SIGHUP: reloading the policy")
			r.reload(nil)
			continue
		}
		r.log.Info("stopping", "signal", s.String(), "fail", r.k.fail.String())
		break
	}
	if err := r.shutdown(); err != nil {
		r.log.Error("stop", "err", err)
		return 1
	}
	return 0
}

// shutdown stops in reverse start order; the inline path's stop follows
// the fail mode.
func (r *runner) shutdown() error {
	var err error
	if r.ctl != nil {
		r.ctl.Close()
		_ = os.Remove(r.cfg.Control)
	}
	if r.d != nil {
		err = r.d.Stop()
	}
	if r.shape != nil {
		if e := r.shape.shutdown(); e != nil {
			r.log.Error("stop: restoring the ports' qdiscs", "err", e)
			err = errors.Join(err, e)
		}
	}
	r.tr.shutdown()
	if r.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r.http.Shutdown(ctx)
		cancel()
	}
	if r.ev != nil {
		r.ev.shutdown()
	}
	return err
}

// reload loads the policy again and applies it to decided flows. It
// writes its outcome to out (the control socket) as well as the log.
func (r *runner) reload(out io.Writer) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	say := func(prefix, msg string) {
		if out != nil {
			fmt.Fprintf(out, "%s: %s\n", prefix, msg)
		}
	}
	warns, err := r.brain.Reload(r.cfg.Policy)
	if err == nil {
		r.info.notePolicy(r.cfg.Policy)
		setMemoryLimit(r.maxFlows) // the new policy may be larger or smaller
	}
	for _, w := range warns {
		r.log.Warn("policy", "warning", w)
		say("warning", w)
	}
	if err != nil {
		r.stats.reloadsFailed.Add(1)
		for _, line := range strings.Split(err.Error(), "\n") {
			r.log.Error("reload failed; the old policy stays in force", "error", line)
			say("error", line)
		}
		return false
	}
	if err := r.shape.apply(r.brain.ShapePlan()); err != nil {
		r.log.Error("reload: shaping not changed; the old classes stay in force", "err", err)
		say("error", err.Error())
	}
	if err := r.d.SetShapeClasses(r.brain.ShapeClasses()); err != nil {
		r.log.Error("reload: updating the shape rules", "err", err)
		say("error", err.Error())
	}
	res, err := r.d.Revise()
	r.stats.reloadsOK.Add(1)
	r.stats.flowsRevised.Add(uint64(res.Changed))
	r.stats.marksRewritten.Add(uint64(res.Marks.Updated))
	if err != nil {
		r.log.Error("reload: re-judging decided flows", "err", err)
		say("error", err.Error())
	}
	if res.Marks.LastErr != nil {
		r.log.Warn("reload: some ct marks could not be rewritten", "failed", res.Marks.Failed, "err", res.Marks.LastErr)
	}
	for _, l := range r.brain.GeoIP() {
		r.log.Info("reload", "geoip", l)
		if out != nil {
			fmt.Fprintln(out, l)
		}
	}
	msg := fmt.Sprintf("policy %s loaded; %d decided flows changed, %d ct marks rewritten (%d by reply tuple), %d already gone",
		r.cfg.Policy, res.Changed, res.Marks.Updated, res.Marks.ByReply, res.Marks.NotFound)
	if res.Adopted > 0 {
		msg += fmt.Sprintf("; %d flows decided before the restart kept their decision (not re-judged: their metadata died with the earlier run)", res.Adopted)
	}
	r.log.Info("reload", "result", msg)
	say("ok", msg)
	return true
}

// serveControl answers the control socket: one command per connection,
// "reload" or "stats".
func (r *runner) serveControl() {
	for {
		c, err := r.ctl.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil && line == "" {
				return
			}
			switch strings.TrimSpace(line) {
			case "reload":
				r.reload(c)
			case "status":
				json.NewEncoder(c).Encode(r.status())
			case "flows":
				r.writeFlows(c)
			case "stats":
				rc, _ := r.d.RuleCounters()
				json.NewEncoder(c).Encode(struct {
					Queues []nfq.QueueStats           `json:"queues"`
					Rules  map[string]nfq.RuleCounter `json:"rules"`
				}{r.d.Stats(), rc})
			default:
				fmt.Fprintf(c, "error: unknown command %q (want reload, status, flows or stats)\n", strings.TrimSpace(line))
			}
		}()
	}
}
