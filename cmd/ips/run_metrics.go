package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ips/nfq"
	"ips/verdict"
)

// runStats are the daemon's own counters beside the queues'.
type runStats struct {
	reloadsOK, reloadsFailed atomic.Uint64
	flowsRevised             atomic.Uint64
	marksRewritten           atomic.Uint64
	dnsHeld                  atomic.Uint64 // DNS flows kept queued for their answer
}

// collector reads the queues' counters at scrape time; nothing on the
// packet path touches Prometheus.
type collector struct {
	d   *nfq.Daemon
	ev  *eventSink
	run *runStats

	packets, verdicts, monitored, enobufs, kdropped, udropped, waiting, errs, panics, latency,
	wait, rules, reloads, revised, marks, events, repairs, adopted, dnsHeld *prometheus.Desc
}

func newCollector(d *nfq.Daemon, ev *eventSink, run *runStats) *collector {
	q := []string{"queue"}
	return &collector{d: d, ev: ev, run: run,
		packets:  prometheus.NewDesc("ips_queue_packets_total", "Packets received from the queue.", q, nil),
		verdicts: prometheus.NewDesc("ips_verdicts_total", "Verdicts given: undecided (NF_ACCEPT, flow stays queued), a final action (NF_REPEAT with the decision mark), or fail (fail-mode verdict after a decider error).", []string{"queue", "verdict"}, nil),
		// Monitored decisions are a metric of their own, not a label of
		// ips_verdicts_total, so that sum(ips_verdicts_total{verdict="drop"})
		// keeps counting only what the kernel dropped.
		monitored: prometheus.NewDesc("ips_monitored_verdicts_total", "Final decisions of monitor mode (ips run --monitor or \"enforce\": false), by would-be verdict; the kernel was told pass (enforced=false in the flow record).", []string{"queue", "verdict"}, nil),
		enobufs:   prometheus.NewDesc("ips_queue_enobufs_total", "Receive buffer overruns reported by the socket (ENOBUFS).", q, nil),
		kdropped:  prometheus.NewDesc("ips_queue_kernel_dropped_total", "Packets the kernel dropped because the queue was full (queue_dropped; with fail-open they are accepted instead).", q, nil),
		udropped:  prometheus.NewDesc("ips_queue_user_dropped_total", "Packets the kernel could not deliver to the socket (queue_user_dropped).", q, nil),
		waiting:   prometheus.NewDesc("ips_queue_waiting", "Packets queued in the kernel waiting for a verdict.", q, nil),
		errs:      prometheus.NewDesc("ips_queue_errors_total", "Receive, send and verdict errors (none is fatal).", []string{"queue", "kind"}, nil),
		panics:    prometheus.NewDesc("ips_decider_panics_total", "Decider panics (each packet got the fail-mode verdict).", q, nil),
		latency:   prometheus.NewDesc("ips_queue_batch_latency_seconds", "Time a packet's batch spent in user space, from receive to verdict.", q, nil),
		wait:      prometheus.NewDesc("ips_queue_added_latency_seconds", "Latency the queue added to a packet: from its arrival on the gateway (kernel receive timestamp) to its verdict, queue wait included.", q, nil),
		rules:     prometheus.NewDesc("ips_rule_packets_total", "Packets matched by our nftables rules, by rule tag.", []string{"rule"}, nil),
		reloads:   prometheus.NewDesc("ips_reloads_total", "Policy reloads.", []string{"result"}, nil),
		revised:   prometheus.NewDesc("ips_reload_flows_changed_total", "Decided flows whose decision changed on reload.", nil, nil),
		marks:     prometheus.NewDesc("ips_reload_marks_rewritten_total", "Conntrack marks rewritten on reload.", nil, nil),
		events:    prometheus.NewDesc("ips_events_total", "Flow events written or dropped (sink full or disconnected).", []string{"result"}, nil),
		repairs:   prometheus.NewDesc("ips_table_repairs_total", "Times our nftables rules had to be restored.", nil, nil),
		adopted:   prometheus.NewDesc("ips_adopted_flows", "Flows decided by an earlier run (found in conntrack at start) still alive at the last look (start or reload); they keep their decision.", nil, nil),
		dnsHeld:   prometheus.NewDesc("ips_dns_flows_held_total", "DNS flows the policy could pass on their query, kept queued until their answer (or the DNS packet budget) so the answer teaches the name cache.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.packets, c.verdicts, c.monitored, c.enobufs, c.kdropped, c.udropped, c.waiting,
		c.errs, c.panics, c.latency, c.wait, c.rules, c.reloads, c.revised, c.marks, c.events, c.repairs, c.adopted, c.dnsHeld} {
		ch <- d
	}
	c.ev.tr.describe(ch)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	for _, s := range c.d.Stats() {
		q := strconv.Itoa(int(s.Queue))
		counter(c.packets, s.Packets, q)
		counter(c.verdicts, s.Undecided, q, "undecided")
		for a := verdict.Pass; a <= verdict.Mark; a++ {
			counter(c.verdicts, s.DecidedBy(a), q, a.String())
			counter(c.monitored, s.MonitoredBy(a), q, a.String())
		}
		counter(c.verdicts, s.FailVerdicts, q, "fail")
		counter(c.verdicts, s.Foreign, q, "foreign")
		counter(c.enobufs, s.ENOBUFS, q)
		if s.Kernel.Valid {
			counter(c.kdropped, s.Kernel.Dropped, q)
			counter(c.udropped, s.Kernel.UserDropped, q)
			ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(s.Kernel.Waiting), q)
		}
		counter(c.errs, s.RecvErrors, q, "recv")
		counter(c.errs, s.SendErrors, q, "send")
		counter(c.errs, s.VerdictErrors, q, "verdict")
		counter(c.errs, s.Malformed, q, "malformed")
		counter(c.panics, s.Panics, q)
		ch <- histogram(c.latency, s.Latency, q)
		ch <- histogram(c.wait, s.Wait, q)
	}
	if rc, err := c.d.RuleCounters(); err == nil {
		for tag, r := range rc {
			counter(c.rules, r.Packets, tag)
		}
	}
	counter(c.reloads, c.run.reloadsOK.Load(), "ok")
	counter(c.reloads, c.run.reloadsFailed.Load(), "error")
	counter(c.revised, c.run.flowsRevised.Load())
	counter(c.marks, c.run.marksRewritten.Load())
	counter(c.events, c.ev.written.Load(), "written")
	counter(c.events, c.ev.dropped.Load(), "dropped")
	counter(c.repairs, c.d.TableRepairs())
	ch <- prometheus.MustNewConstMetric(c.adopted, prometheus.GaugeValue, float64(c.d.Adopted()))
	counter(c.dnsHeld, c.run.dnsHeld.Load())
	c.ev.tr.collect(ch)
}

// serveMetrics starts the Prometheus endpoint; it returns once listening.
func serveMetrics(addr string, c *collector, log *slog.Logger, extra ...prometheus.Collector) (*http.Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(extra...)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return srv, nil
}

func histogram(d *prometheus.Desc, h nfq.Histogram, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(nfq.LatencyBounds))
	var cum uint64
	for i, b := range nfq.LatencyBounds {
		cum += h.Counts[i]
		buckets[b.Seconds()] = cum
	}
	cum += h.Counts[len(nfq.LatencyBounds)]
	return prometheus.MustNewConstHistogram(d, cum, h.Sum.Seconds(), buckets, labels...)
}
