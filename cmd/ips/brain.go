package main

import (
	"log/slog"
	"net/netip"

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
}

// brainOptions are the run flags the policy engine needs.
type brainOptions struct {
	Policy string
	GeoIP  string
	LAN    []netip.Prefix // LAN address ranges for pool matching when the side is unknown
}

// newBrain loads the policy for the first time (pools, GeoIP, policy:
// the start order's first steps).
//
// Wiring to the policy engine (policy.Worker), for the lead:
//
//	holder := &policy.Holder{}
//	load := func(path string) ([]string, error) {
//		set, rep, err := policy.Load(path, policy.LoadOptions{GeoIP: opt.GeoIP})
//		if err != nil { return nil, err } // rep/err carry every file:line:col problem
//		holder.Store(set)
//		return rep.Warnings(), nil
//	}
//	NewDecider: policy.NewWorker(policy.WorkerConfig{Engine: dpi.Config{...},
//		Policy: holder, LAN: opt.LAN,
//		Decided: func(f *dpi.Flow, d verdict.Decision) { ev.flow("decided", f, d) },
//		Ended:   func(f *dpi.Flow, d verdict.Decision) { ev.flow("ended", f, d) }}, log)
//
// Until then a stand-in decides by LAN host pools and default markers.
func newBrain(opt brainOptions, ev *eventSink, log *slog.Logger) (brain, []string, error) {
	return newStandinBrain(opt, ev, log)
}
