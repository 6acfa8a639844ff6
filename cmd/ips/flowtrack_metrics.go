package main

import "github.com/prometheus/client_golang/prometheus"

// trackerDescs are the flow tracker's metrics.
type trackerDescs struct {
	ended, suppressed, overflow, unknown, tracked, ctEvents, ctOverruns *prometheus.Desc
}

func newTrackerDescs() trackerDescs {
	return trackerDescs{
		ended:      prometheus.NewDesc("ips_flow_ended_total", "Ended flow events by where their counts come from: conntrack (every packet, counted by the kernel) or user (the packets ips inspected).", []string{"accounting"}, nil),
		suppressed: prometheus.NewDesc("ips_flow_events_suppressed_total", "Ended events of decided flows not written because they came faster than --ended-events-rate.", nil, nil),
		overflow:   prometheus.NewDesc("ips_flow_track_overflow_total", "Decided flows not tracked because the list was full; they end without their metadata.", nil, nil),
		unknown:    prometheus.NewDesc("ips_flow_ended_unknown_total", "Decided conntrack entries that ended without a record in ips (decided by an earlier run, or not tracked).", nil, nil),
		tracked:    prometheus.NewDesc("ips_flows_tracked", "Decided flows tracked until conntrack ends them.", nil, nil),
		ctEvents:   prometheus.NewDesc("ips_conntrack_events_total", "Conntrack update and destroy events read (all entries), and those of entries ips decided.", []string{"kind"}, nil),
		ctOverruns: prometheus.NewDesc("ips_conntrack_event_overruns_total", "Times the kernel dropped conntrack events for ips (ENOBUFS); each is followed by a reconciling dump.", nil, nil),
	}
}

func (t *flowTracker) describe(ch chan<- *prometheus.Desc) {
	if t == nil {
		return
	}
	d := &t.descs
	for _, x := range []*prometheus.Desc{d.ended, d.suppressed, d.overflow, d.unknown, d.tracked, d.ctEvents, d.ctOverruns} {
		ch <- x
	}
}

func (t *flowTracker) collect(ch chan<- prometheus.Metric) {
	if t == nil {
		return
	}
	d := &t.descs
	c := func(desc *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), l...)
	}
	c(d.ended, t.stats.endedKernel.Load(), "conntrack")
	c(d.ended, t.stats.endedUser.Load(), "user")
	c(d.suppressed, t.stats.suppressed.Load())
	c(d.overflow, t.stats.overflow.Load())
	c(d.unknown, t.stats.unknown.Load())
	ch <- prometheus.MustNewConstMetric(d.tracked, prometheus.GaugeValue, float64(t.count()))
	es := t.evs.Stats()
	c(d.ctEvents, es.Messages, "all")
	c(d.ctEvents, es.Ours, "ours")
	c(d.ctOverruns, es.Overruns)
}
