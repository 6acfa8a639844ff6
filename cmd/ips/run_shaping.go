package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ips/nfq"
	"ips/policy"
	"ips/shaping"
	"ips/verdict"
)

// shapingRun is the daemon's shaping: the HTB trees (shaping.Shaper),
// the classification table "netdev ips" (nfq.ShapeTable), and the
// goroutine that gives per-host shapers' hosts their classes.
type shapingRun struct {
	sh  *shaping.Shaper
	tab *nfq.ShapeTable
	log *slog.Logger

	// lazy: how each shaper divides its rate and the pools' prefixes by
	// name, for the pool and host classes made on demand; nil while every
	// shaper is per "all".
	lazy    atomic.Pointer[lazyIndex]
	reqs    chan hostReq
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	dropped atomic.Uint64
}

type lazyIndex struct {
	per   map[uint16]verdict.ShaperPer
	pools map[string][]netip.Prefix
}

type hostReq struct {
	class uint16
	pool  string
	addr  netip.Addr
}

// shapingPorts are the ports with their line rates.
func (c *runConfig) shapingPorts() ([]shaping.Port, error) {
	var ps []shaping.Port
	for _, x := range []struct {
		flag, rate string
		names      []string
		side       verdict.Side
	}{{"--wan-rate", c.WANRate, c.WAN, verdict.SideWAN}, {"--lan-rate", c.LANRate, c.LAN, verdict.SideLAN}} {
		r, err := parseLineRate(x.rate)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", x.flag, err)
		}
		for _, n := range x.names {
			ps = append(ps, shaping.Port{Name: n, Side: x.side, Rate: r})
		}
	}
	return ps, nil
}

func newShapingRun(cfg *runConfig, layout verdict.MarkLayout, log *slog.Logger) (*shapingRun, error) {
	ports, err := cfg.shapingPorts()
	if err != nil {
		return nil, err
	}
	sh, err := shaping.New(shaping.Config{Ports: ports, TakeOver: cfg.TakeOverQdisc, StateDir: cfg.StateDir, Log: log})
	if err != nil {
		return nil, err
	}
	tab, err := nfq.NewShapeTable(layout, log)
	if err != nil {
		sh.Stop()
		return nil, err
	}
	s := &shapingRun{sh: sh, tab: tab, log: log, reqs: make(chan hostReq, 4096), stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s, nil
}

// apply builds the plan's classes and the maps that find them, in one
// pass; on error the old state stays in force.
func (s *shapingRun) apply(plan verdict.ShapePlan) error {
	start := time.Now()
	if err := s.sh.Apply(plan, s.tab.Apply); err != nil {
		return fmt.Errorf("shaping: %w", err)
	}
	idx := &lazyIndex{per: map[uint16]verdict.ShaperPer{}, pools: map[string][]netip.Prefix{}}
	for _, sh := range plan.Shapers {
		if sh.Per != verdict.PerAll {
			idx.per[sh.Class] = sh.Per
		}
	}
	for _, p := range plan.Pools {
		idx.pools[p.Name] = p.Prefixes
	}
	if len(idx.per) == 0 {
		idx = nil
	}
	s.lazy.Store(idx)
	if len(plan.Shapers) > 0 {
		s.warnUnshaped(len(plan.Shapers))
		s.log.Info("shaping applied", "shapers", len(plan.Shapers), "pools", len(plan.Pools),
			"leaf", leafName(s.sh.Leaf()), "took", time.Since(start).Round(time.Microsecond))
	}
	return nil
}

func leafName(l string) string {
	if l == "" {
		return "default pfifo"
	}
	return l
}

// warnUnshaped says so when the policy shapes and a port (or every port)
// cannot be shaped.
func (s *shapingRun) warnUnshaped(shapers int) {
	skipped := s.sh.Skipped()
	if len(skipped) == 0 {
		return
	}
	var names []string
	for _, k := range skipped {
		names = append(names, k.Port)
	}
	if !s.sh.Installed() || len(s.sh.Ports()) == 0 {
		s.log.Error("the policy shapes but no port can be shaped: shaped flows run unlimited", "shapers", shapers, "ports", strings.Join(names, ","))
		return
	}
	s.log.Warn("the policy shapes but some ports cannot be shaped", "ports", strings.Join(names, ","))
}

// decided is the policy workers' hook: a flow decided into a per-pool
// shaper asks for its pool's class, into a per-host shaper for its LAN
// host's. It never blocks.
func (s *shapingRun) decided(d verdict.Decision, lan netip.Addr) {
	// A monitored shape passes unshaped: no per-host or per-pool map.
	if d.Action != verdict.Shape || d.Pool == "" || d.Monitor {
		return
	}
	idx := s.lazy.Load()
	if idx == nil {
		return
	}
	switch idx.per[d.Class] {
	case verdict.PerPool:
		s.ask(hostReq{class: d.Class, pool: d.Pool})
		return
	case verdict.PerHost:
	default:
		return
	}
	// The host is the LAN side the policy chose the pool for; a host in
	// a MAC pool (its address in none of the pool's prefixes) is left to
	// the pool's class, since the maps key on addresses of the pool.
	lan = lan.Unmap()
	for _, p := range idx.pools[d.Pool] {
		if p.Contains(lan) {
			s.ask(hostReq{class: d.Class, pool: d.Pool, addr: lan})
			return
		}
	}
}

func (s *shapingRun) ask(r hostReq) {
	select {
	case s.reqs <- r:
	default:
		s.dropped.Add(1)
	}
}

// loop creates per-host classes as they are asked for and removes idle
// ones.
func (s *shapingRun) loop() {
	defer close(s.done)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case r := <-s.reqs:
			// Take what else is waiting too: one map transaction for all.
			var all verdict.ClassUpdate
			for n := 0; ; n++ {
				u, ok, err := s.sh.Ensure(r.class, r.pool, r.addr)
				if err != nil {
					s.log.Warn("shaper class", "pool", r.pool, "host", r.addr, "err", err)
				} else if ok {
					all.AddEntries = append(all.AddEntries, u.AddEntries...)
					all.AddHosts = append(all.AddHosts, u.AddHosts...)
				}
				if n == 255 || len(s.reqs) == 0 {
					break
				}
				r = <-s.reqs
			}
			if len(all.AddEntries)+len(all.AddHosts) > 0 {
				if err := s.tab.Update(all); err != nil {
					s.log.Warn("shaper class map entries", "err", err)
				}
			}
		case now := <-t.C:
			if fixed, err := s.tab.Repair(); fixed {
				s.log.Error("nftables table netdev ips disappeared; recreated it", "err", err)
			}
			if err := s.sh.Expire(now, s.tab.Update); err != nil {
				s.log.Warn("expiring idle pool and host shaper classes", "err", err)
			}
		}
	}
}

// shutdown removes the classification table and puts the ports' qdiscs
// back as they were.
func (s *shapingRun) shutdown() error {
	var err error
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		e1 := s.tab.Remove()
		e2 := s.sh.Stop()
		if e2 != nil {
			err = e2
		} else {
			err = e1
		}
	})
	return err
}

// parseLineRate reads --wan-rate / --lan-rate.
func parseLineRate(s string) (uint64, error) {
	if strings.TrimSpace(s) == "" {
		return shaping.DefaultLineRate, nil
	}
	return policy.ParseRate(s)
}

// shapingCollector exports each shaper class's counters at scrape time.
type shapingCollector struct {
	s                                              *shapingRun
	bytes, packets, drops, overlimits, backlog, ql *prometheus.Desc
	reqDropped                                     *prometheus.Desc
}

func newShapingCollector(s *shapingRun) *shapingCollector {
	l := []string{"shaper", "pool", "host", "direction", "port"}
	return &shapingCollector{s: s,
		bytes:      prometheus.NewDesc("ips_shaper_bytes_total", "Bytes sent by a shaper class (shaper, pool; host for per-host shapers; upload on WAN ports, download on LAN ports).", l, nil),
		packets:    prometheus.NewDesc("ips_shaper_packets_total", "Packets sent by a shaper class.", l, nil),
		drops:      prometheus.NewDesc("ips_shaper_drops_total", "Packets a shaper class dropped (its queue was full).", l, nil),
		overlimits: prometheus.NewDesc("ips_shaper_overlimits_total", "Times a shaper class was over its rate and had to wait or borrow.", l, nil),
		backlog:    prometheus.NewDesc("ips_shaper_backlog_bytes", "Bytes waiting in a shaper class's queue.", l, nil),
		ql:         prometheus.NewDesc("ips_shaper_backlog_packets", "Packets waiting in a shaper class's queue.", l, nil),
		reqDropped: prometheus.NewDesc("ips_shaper_host_requests_dropped_total", "Per-host class requests dropped because the request queue was full (the host's flows used the shaper's own class).", nil, nil),
	}
}

func (c *shapingCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.bytes, c.packets, c.drops, c.overlimits, c.backlog, c.ql, c.reqDropped} {
		ch <- d
	}
}

func (c *shapingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.reqDropped, prometheus.CounterValue, float64(c.s.dropped.Load()))
	st, err := c.s.sh.Stats()
	if err != nil {
		return
	}
	for _, x := range st {
		dir := "download"
		if x.Upload {
			dir = "upload"
		}
		l := []string{x.Shaper, x.Pool, x.Host, dir, x.Port}
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(x.Bytes), l...)
		ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(x.Packets), l...)
		ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(x.Drops), l...)
		ch <- prometheus.MustNewConstMetric(c.overlimits, prometheus.CounterValue, float64(x.Overlimits), l...)
		ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(x.Backlog), l...)
		ch <- prometheus.MustNewConstMetric(c.ql, prometheus.GaugeValue, float64(x.Qlen), l...)
	}
}

// cleanupShaping is ips doctor --cleanup's shaping part: the
// classification table, and the ports' qdiscs from the state file.
func cleanupShaping(stateDir string, stdout, stderr io.Writer) int {
	status := 0
	if removed, err := nfq.RemoveShapeTable(); err != nil {
		fmt.Fprintf(stderr, "ips doctor: %v\n", err)
		status = 1
	} else if removed {
		fmt.Fprintln(stdout, "removed nftables table netdev ips: shaped flows are no longer classified")
	}
	ports, err := shaping.Cleanup(stateDir, nil)
	if err != nil {
		fmt.Fprintf(stderr, "ips doctor: %v\n", err)
		status = 1
	}
	if len(ports) > 0 {
		fmt.Fprintf(stdout, "put back the qdiscs ips found on %s before it shaped them\n", strings.Join(ports, ", "))
	} else if err == nil {
		fmt.Fprintln(stdout, "no shaping state left by ips: no qdisc to put back")
	}
	return status
}

// doctorShaping checks that a policy that shapes has a port to shape.
func doctorShaping(cfg *runConfig, line func(ok, required bool, name, detail, fix string), stdout io.Writer) {
	set, _, err := policy.Load(cfg.Policy, policy.LoadOptions{GeoIP: cfg.GeoIP})
	if err != nil {
		line(false, false, "policy "+cfg.Policy, "does not load: "+firstLine(err.Error()), "ips check "+cfg.Policy)
		return
	}
	plan := set.ShapePlan()
	if len(plan.Shapers) == 0 {
		fmt.Fprintln(stdout, "info  the policy has no shapers: no qdisc is installed")
		return
	}
	ports, err := cfg.shapingPorts()
	if err != nil {
		line(false, true, "shaping", err.Error(), "give --wan-rate/--lan-rate in tc units, e.g. 1gbit")
		return
	}
	checks := shaping.CheckPorts(ports, cfg.TakeOverQdisc)
	ok := 0
	for _, c := range checks {
		line(c.OK, false, "shaping port "+c.Port, c.Detail, c.Fix)
		if c.OK {
			ok++
		}
	}
	if ok == 0 {
		line(false, false, "shaping", fmt.Sprintf("the policy has %d shapers but no port can be shaped: shaped flows would run unlimited", len(plan.Shapers)),
			"give --lan/--wan ports without a root qdisc of their own, or --take-over-qdisc")
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// checkShaping is ips check's word on shapers: what bounds them, and,
// with the run's ports, a warning when no port can be shaped.
func checkShaping(path string, set *policy.Set, mask uint32, lan, wan []string, takeOver, quiet bool, stdout, stderr io.Writer) {
	plan := set.ShapePlan()
	if len(plan.Shapers) == 0 {
		return
	}
	if mask == 0 {
		mask = verdict.DefaultMarkMask
	}
	layout, err := verdict.NewMarkLayout(mask)
	if err != nil {
		return
	}
	maxc := min(int(layout.MaxClass()), shaping.MaxShaperClass)
	if len(lan)+len(wan) == 0 {
		if !quiet {
			fmt.Fprintf(stdout, "%s: note: %d shaper(s); the mark mask %#08x carries shaper classes 1–%d (each shaper's pool and host classes are not bounded by it); shaped on the egress of the ips run --lan/--wan ports: add --lan/--wan here (as root) to check that they can be shaped\n",
				path, len(plan.Shapers), mask, maxc)
		}
		return
	}
	var ports []shaping.Port
	for _, n := range wan {
		ports = append(ports, shaping.Port{Name: n, Side: verdict.SideWAN})
	}
	for _, n := range lan {
		ports = append(ports, shaping.Port{Name: n, Side: verdict.SideLAN})
	}
	ok := 0
	for _, c := range shaping.CheckPorts(ports, takeOver) {
		if c.OK {
			ok++
			continue
		}
		fmt.Fprintf(stderr, "%s: warning: port %s cannot be shaped: %s\n", path, c.Port, c.Detail)
	}
	if ok == 0 {
		fmt.Fprintf(stderr, "%s: warning: the policy shapes (%d shaper(s)) but no port can be shaped: shaped flows would run unlimited\n", path, len(plan.Shapers))
	}
}
