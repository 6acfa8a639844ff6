package main

import (
	"log/slog"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"ips/dpi"
	"ips/policy"
	"ips/verdict"
)

// brain is what "ips run" needs from the policy engine. It is the only
// seam between the daemon's wiring and the policy package.
type brain interface {
	// Reload parses, validates and compiles the policy file and swaps it
	// in atomically. On error the old policy stays in force and the error
	// lists every problem found.
	Reload(path string) (warnings []string, err error)
	// NewDecider makes the decider of one queue (a policy worker with its
	// own DPI engine); it is called once per queue at start.
	NewDecider(queue uint16) verdict.Decider
	// ShapeClasses are the shaper classes the loaded policy uses.
	ShapeClasses() []uint16
	// GeoIP describes the loaded policy's GeoIP databases, one line each.
	GeoIP() []string
	// ShapePlan is the loaded policy's shapers and pools.
	ShapePlan() verdict.ShapePlan
	// Monitored lists the ids of the loaded policy's policies whose
	// decisions are not enforced ("enforce": false, or --monitor).
	Monitored() []int64
}

// brainOptions are the run flags the policy engine needs.
type brainOptions struct {
	Policy   string
	GeoIP    string
	GeoIPASN string
	MarkMask uint32
	Fail     verdict.FailMode
	// Monitor: every decision is monitored, none enforced (--monitor).
	Monitor bool
	// MaxFlows bounds each queue worker's flow table.
	MaxFlows int
	// OnDecided, when set, is told of every flow whose decision became
	// final (on the worker's goroutine; it must not block), with the
	// flow's LAN-side host as the policy resolved it.
	OnDecided func(f *dpi.Flow, d verdict.Decision, lan netip.Addr)
	FlowIdle  time.Duration // the DPI engine's idle timeout (0: its default)
	// DNSHeld, when set, counts the DNS flows kept queued for their
	// answer so that it teaches the name cache.
	DNSHeld *atomic.Uint64
}

// policyBrain is the policy engine: one compiled policy published through
// a Holder, one worker (with its own DPI engine) per queue, and one DNS
// cache shared by all workers, since a DNS answer and the flow it names
// may land on different queues.
type policyBrain struct {
	opt    brainOptions
	holder policy.Holder
	dns    *dpi.DNSCache
	ev     *eventSink
	log    *slog.Logger
}

// newBrain loads the policy for the first time (pools, GeoIP, policy:
// the start order's first steps).
func newBrain(opt brainOptions, ev *eventSink, log *slog.Logger) (brain, []string, error) {
	b := &policyBrain{opt: opt, dns: dpi.NewDNSCache(1 << 16), ev: ev, log: log}
	w, err := b.Reload(opt.Policy)
	if err != nil {
		return nil, w, err
	}
	return b, w, nil
}

// Reload compiles the new policy beside the one in force, which goes on
// judging packets meanwhile, swaps them, and hands the old one's memory
// back at once: with a blocklist of 1.5 M names the daemon then holds two
// compiled policies only while the new one is built (README, "Hostile
// policy input"). The collections cost a few tens of milliseconds per
// reload.
func (b *policyBrain) Reload(path string) ([]string, error) {
	// What the last load or reload left behind is returned first, so
	// that the new policy is built in that memory, not beside it.
	debug.FreeOSMemory()
	defer debug.FreeOSMemory()
	set, rep, err := policy.Load(path, policy.LoadOptions{GeoIP: b.opt.GeoIP, GeoIPASN: b.opt.GeoIPASN, MarkMask: b.opt.MarkMask, Monitor: b.opt.Monitor, Previous: b.holder.Load()})
	var warns []string
	if rep != nil {
		// The first policy.MaxShown warnings and a count of the rest;
		// err's text is capped the same way.
		warns = policy.Problems(nil, rep.Warnings)
	}
	if err != nil {
		return warns, err
	}
	b.holder.Store(set)
	return warns, nil
}

func (b *policyBrain) NewDecider(queue uint16) verdict.Decider {
	report := func(kind string) func(*dpi.Flow, verdict.Decision) {
		return func(f *dpi.Flow, d verdict.Decision) {
			var cat *dpi.Catalog
			if s := b.holder.Load(); s != nil {
				cat = s.Catalog()
			}
			b.ev.flow(kind, f, cat, d)
		}
	}
	// The engine tells why a flow ends (idle, evicted, flush at stop)
	// just before the worker's Ended, on the same goroutine.
	var why dpi.EndReason
	var w *policy.Worker // set before any packet: Decided asks it for the LAN host
	w = policy.NewWorker(policy.WorkerConfig{
		Engine:  dpi.Config{DNSCache: b.dns, MaxFlows: b.opt.MaxFlows, IdleTimeout: b.opt.FlowIdle, OnEnd: func(_ *dpi.Flow, r dpi.EndReason) { why = r }},
		Policy:  &b.holder,
		Fail:    b.opt.Fail,
		Decided: b.decided(&w, report("decided")),
		DNSHeld: b.dnsHeld(),
		Ended: func(f *dpi.Flow, d verdict.Decision) {
			var cat *dpi.Catalog
			if s := b.holder.Load(); s != nil {
				cat = s.Catalog()
			}
			b.ev.flowEnded(f, cat, d, why)
		},
	}, b.log.With("queue", queue))
	return w
}

func (b *policyBrain) ShapeClasses() []uint16 {
	s := b.holder.Load()
	if s == nil {
		return nil
	}
	var out []uint16
	for _, sh := range s.Shapers() {
		out = append(out, sh.Class)
	}
	return out
}

func (b *policyBrain) GeoIP() []string {
	if s := b.holder.Load(); s != nil {
		return geoipLines(s.Geo())
	}
	return nil
}
func (b *policyBrain) dnsHeld() func(*dpi.Flow) {
	if b.opt.DNSHeld == nil {
		return nil
	}
	return func(*dpi.Flow) { b.opt.DNSHeld.Add(1) }
}

func (b *policyBrain) decided(w **policy.Worker, report func(*dpi.Flow, verdict.Decision)) func(*dpi.Flow, verdict.Decision) {
	if b.opt.OnDecided == nil {
		return report
	}
	return func(f *dpi.Flow, d verdict.Decision) {
		b.opt.OnDecided(f, d, (*w).LANHost(f))
		report(f, d)
	}
}

func (b *policyBrain) ShapePlan() verdict.ShapePlan { return b.holder.Load().ShapePlan() }

func (b *policyBrain) Monitored() []int64 { return b.holder.Load().MonitoredPolicies() }
