package main

import (
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"ips/dpi"
	"ips/nfq"
	"ips/verdict"
)

// flowAcct are the accounting fields of a flow event and of "ips flows",
// with nfstream's names. The byte counts are IP packet lengths (headers
// included), as conntrack counts them.
type flowAcct struct {
	BidirectionalPackets uint64 `json:"bidirectional_packets"`
	BidirectionalBytes   uint64 `json:"bidirectional_bytes"`
	FirstSeenMS          int64  `json:"bidirectional_first_seen_ms"`
	LastSeenMS           int64  `json:"bidirectional_last_seen_ms"`
	DurationMS           int64  `json:"bidirectional_duration_ms"`
	// Accounting says where the counts come from: "conntrack" (every
	// packet of the flow, counted by the kernel), or "user" (only the
	// packets ips inspected: the flow was never in conntrack with
	// accounting, e.g. dropped at its first packet, or the kernel has no
	// counters for it).
	Accounting string `json:"accounting"`
	// ConntrackState is the TCP state conntrack had (ESTABLISHED,
	// TIME_WAIT, ...), when known.
	ConntrackState string `json:"conntrack_state,omitempty"`
	// AgeMS is how long the flow has lived (ips flows only).
	AgeMS int64 `json:"age_ms,omitempty"`
}

// ctReader is what the tracker asks conntrack (a *nfq.Conntrack).
type ctReader interface {
	Get(verdict.Tuple) (nfq.ConnInfo, error)
	DumpInfo(val, mask uint32, fn func(nfq.ConnInfo)) error
	Close() error
}

// tracked is one decided flow the tracker knows.
type tracked struct {
	rec       flowRecord
	first     int64 // Unix ns of the flow's first packet
	decidedAt time.Time
	userEnded bool      // the DPI engine forgot it (idle in user space)
	closed    bool      // "ended" was emitted at TIME_WAIT/CLOSE; the destroy is silent
	goneAt    time.Time // conntrack had no entry for it at this time
}

// trackerStats count what the tracker did (metrics, ips status).
type trackerStats struct {
	endedKernel atomic.Uint64 // ended events with conntrack's counters
	endedUser   atomic.Uint64 // ended events with user-space counts
	suppressed  atomic.Uint64 // ended events over the rate limit, not written
	overflow    atomic.Uint64 // decided flows not tracked: the list was full
	unknown     atomic.Uint64 // conntrack ends of decided entries we did not know
	reconciles  atomic.Uint64
}

// flowTracker follows decided flows from their decision to their end in
// conntrack. Before: "ended" came from the DPI engine's idle timer (30 s
// after the last packet ips saw, which for a decided flow is the packet
// that decided it) and counted only the packets that reached user space.
// Now a decided flow ends when conntrack says so: a TCP connection when
// it reaches TIME_WAIT (FIN) or CLOSE (RST), anything else when its entry
// is destroyed (timeout), with the kernel's counters.
type flowTracker struct {
	log    *slog.Logger
	ev     *eventSink
	layout verdict.MarkLayout
	ct     ctReader
	evs    *nfq.CtEvents
	acct   *nfq.Accounting
	max    int

	mu    sync.Mutex
	flows map[verdict.Tuple]*tracked

	userEnds chan verdict.Tuple
	lost     atomic.Bool
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	lim      rateLimit
	stats    trackerStats
	descs    trackerDescs
	started  bool
}

// maxTrackedFlows bounds the decided flows kept for ended events and ips
// flows (about 1 KiB each, so at most some 64 MiB); beyond it a decided
// flow still ends with conntrack's counters, without its metadata.
const maxTrackedFlows = 1 << 16

// newFlowTracker switches conntrack accounting on and opens the sockets
// in the daemon's network namespace. Start it after the inline path.
// endedRate bounds the ended events taken from conntrack a second: a
// flood of short decided flows costs at most this many lookups and lines
// a second; the rest are counted (ips_flow_events_suppressed_total).
func newFlowTracker(ev *eventSink, layout verdict.MarkLayout, endedRate int, log *slog.Logger) (*flowTracker, error) {
	t := &flowTracker{log: log, ev: ev, layout: layout, max: maxTrackedFlows,
		flows: make(map[verdict.Tuple]*tracked), userEnds: make(chan verdict.Tuple, 4096),
		stop: make(chan struct{}), done: make(chan struct{}), lim: rateLimit{rate: float64(endedRate)},
		descs: newTrackerDescs()}
	ct, err := nfq.OpenConntrack()
	if err != nil {
		return nil, err
	}
	t.ct = ct
	if t.evs, err = nfq.OpenCtEvents(layout); err != nil {
		t.ct.Close()
		return nil, err
	}
	// On a fresh boot nf_conntrack may not be loaded yet, and with it
	// the sysctl: a ctnetlink request makes the kernel load it.
	t.ct.Get(verdict.Tuple{Proto: 6, Src: netip.MustParseAddrPort("127.0.0.1:9"), Dst: netip.MustParseAddrPort("127.0.0.1:9")})
	if t.acct, err = nfq.EnableAccounting(); err != nil {
		// Without it, ended events and ips flows carry only the packets
		// ips inspected ("accounting": "user").
		log.Warn("no conntrack accounting: byte counts of decided flows unavailable", "err", err)
		t.acct = nil
	} else if !t.acct.WasOn() {
		log.Info("conntrack accounting switched on for ips's run (net.netfilter.nf_conntrack_acct=1, restored on stop); flows older than this have no byte counts")
	}
	return t, nil
}

func (t *flowTracker) start() {
	t.started = true
	t.evs.Start(t.onConntrack, func() { t.lost.Store(true) })
	go t.loop()
}

// shutdown stops the readers and restores the sysctl. Flows still alive
// get no ended event: they live on in the kernel (and a new run adopts
// them).
func (t *flowTracker) shutdown() {
	if t == nil {
		return
	}
	t.stopOnce.Do(func() {
		if t.evs != nil {
			t.evs.Close()
		}
		if t.started {
			close(t.stop)
			<-t.done
		}
		t.ct.Close()
		if err := t.acct.Restore(); err != nil {
			t.log.Warn("stop", "err", err)
		}
	})
}

func tupleOf(f *dpi.Flow) verdict.Tuple {
	return verdict.Tuple{Proto: f.Proto(), Src: f.Client(), Dst: f.Server()}
}

// decided is the worker's callback when a flow's decision becomes final
// (again, after a revision).
func (t *flowTracker) decided(f *dpi.Flow, cat *dpi.Catalog, d verdict.Decision) {
	rec := newRecord(f, cat)
	withDecision(&rec, d)
	k := tupleOf(f)
	t.mu.Lock()
	defer t.mu.Unlock()
	if tf := t.flows[k]; tf != nil {
		tf.rec, tf.closed, tf.userEnded, tf.goneAt = rec, false, false, time.Time{}
		return
	}
	if len(t.flows) >= t.max {
		t.stats.overflow.Add(1)
		return
	}
	t.flows[k] = &tracked{rec: rec, first: f.FirstSeen, decidedAt: time.Now()}
}

// userEnded is the worker's callback when the DPI engine forgets a flow
// (why: the engine's reason, "idle", "evicted", "flush" at stop).
// An undecided flow ends here: all its packets crossed user space, so its
// counts are whole. A decided one stays tracked until conntrack ends it;
// its record takes the metadata seen since the decision.
func (t *flowTracker) userEnded(f *dpi.Flow, cat *dpi.Catalog, d verdict.Decision, why string) {
	k := tupleOf(f)
	if !d.Final {
		t.mu.Lock()
		delete(t.flows, k)
		t.mu.Unlock()
		if t.ev.active() {
			rec := newRecord(f, cat)
			withDecision(&rec, d)
			t.emit(&rec, userAcct(&rec, f.FirstSeen, f.LastSeen), why)
		}
		return
	}
	rec := newRecord(f, cat)
	withDecision(&rec, d)
	t.mu.Lock()
	tf := t.flows[k]
	if tf != nil {
		tf.rec, tf.userEnded = rec, true
	}
	t.mu.Unlock()
	if tf != nil {
		select {
		case t.userEnds <- k:
		default: // the periodic reconcile finds it
		}
	}
}

func userAcct(rec *flowRecord, first, last int64) *flowAcct {
	return &flowAcct{
		BidirectionalPackets: uint64(rec.Src2DstPackets) + uint64(rec.Dst2SrcPackets),
		BidirectionalBytes:   rec.Src2DstBytes + rec.Dst2SrcBytes,
		FirstSeenMS:          first / 1e6, LastSeenMS: last / 1e6, DurationMS: (last - first) / 1e6,
		Accounting: "user",
	}
}

// kernelAcct fills the record's per-direction counts from conntrack's.
func kernelAcct(rec *flowRecord, ci *nfq.ConnInfo, first int64, end time.Time) *flowAcct {
	a := &flowAcct{Accounting: "user"}
	if ci.HasCounters {
		rec.Src2DstPackets, rec.Src2DstBytes = uint32(ci.OrigPackets), ci.OrigBytes
		rec.Dst2SrcPackets, rec.Dst2SrcBytes = uint32(ci.ReplyPackets), ci.ReplyBytes
		a.Accounting = "conntrack"
	}
	a.BidirectionalPackets = uint64(rec.Src2DstPackets) + uint64(rec.Dst2SrcPackets)
	a.BidirectionalBytes = rec.Src2DstBytes + rec.Dst2SrcBytes
	if first == 0 && !ci.Start.IsZero() {
		first = ci.Start.UnixNano()
	}
	if ci.HasTCPState {
		a.ConntrackState = ci.TCPState.String()
	}
	if first != 0 {
		a.FirstSeenMS = first / 1e6
		a.LastSeenMS = end.UnixNano() / 1e6
		a.DurationMS = a.LastSeenMS - a.FirstSeenMS
		rec.FirstSeenMS, rec.LastSeenMS = a.FirstSeenMS, a.LastSeenMS
	}
	return a
}

func (t *flowTracker) emit(rec *flowRecord, a *flowAcct, reason string) {
	rec.End = reason
	if a.Accounting == "conntrack" {
		t.stats.endedKernel.Add(1)
	} else {
		t.stats.endedUser.Add(1)
	}
	t.ev.emitAcct("ended", rec, a)
}

// lookup finds the tracked flow of a conntrack entry: by its original
// tuple (what the decider saw, unless destination NAT happened before our
// hook), else by the reverse of its reply tuple. Called with mu held.
func (t *flowTracker) lookup(ci *nfq.ConnInfo) (verdict.Tuple, *tracked) {
	if tf := t.flows[ci.Tuple]; tf != nil {
		return ci.Tuple, tf
	}
	if ci.Reply.Src.IsValid() {
		k := verdict.Tuple{Proto: ci.Reply.Proto, Src: ci.Reply.Dst, Dst: ci.Reply.Src}
		if tf := t.flows[k]; tf != nil {
			return k, tf
		}
	}
	return ci.Tuple, nil
}

// endReason says why conntrack ended an entry: "fin" (TCP closed by both
// sides' FIN), "rst" (TCP reset), or "timeout" (conntrack's timer for
// the state ran out, or the entry was deleted).
func endReason(ci *nfq.ConnInfo) string {
	if ci.HasTCPState {
		switch ci.TCPState {
		case nfq.TCPTimeWait:
			return "fin"
		case nfq.TCPClose:
			return "rst"
		}
	}
	return "timeout"
}

// onConntrack handles one event about a decided entry (the events
// goroutine).
func (t *flowTracker) onConntrack(e nfq.CtEvent) {
	t.mu.Lock()
	k, tf := t.lookup(&e.ConnInfo)
	var rec flowRecord
	var first int64
	silent := false
	if tf != nil {
		rec, first = tf.rec, tf.first
		if e.Destroy {
			delete(t.flows, k)
			silent = tf.closed
		} else {
			silent = tf.closed
			tf.closed = true
		}
	}
	t.mu.Unlock()
	if silent || (tf == nil && !e.Destroy) {
		return
	}
	if !t.lim.allow(e.Time) {
		t.stats.suppressed.Add(1)
		return
	}
	ci := e.ConnInfo
	if !e.Destroy {
		// Update events carry no counters: read them now. The entry
		// stays in TIME_WAIT/CLOSE a while, so it is there.
		if got, err := t.ct.Get(k); err == nil {
			got.TCPState, got.HasTCPState = ci.TCPState, ci.HasTCPState
			ci = got
		}
	}
	if tf == nil {
		t.stats.unknown.Add(1)
		rec = t.unknownRecord(&ci)
	}
	t.emit(&rec, kernelAcct(&rec, &ci, first, e.Time), endReason(&ci))
}

// unknownRecord describes a decided entry ips has no record of.
func (t *flowTracker) unknownRecord(ci *nfq.ConnInfo) flowRecord {
	rec := flowRecord{SrcIP: ci.Tuple.Src.Addr().String(), SrcPort: ci.Tuple.Src.Port(),
		DstIP: ci.Tuple.Dst.Addr().String(), DstPort: ci.Tuple.Dst.Port(), Protocol: ci.Tuple.Proto, IPVersion: 4}
	if ci.Tuple.Src.Addr().Is6() && !ci.Tuple.Src.Addr().Is4In6() {
		rec.IPVersion = 6
	}
	if d, ok := t.layout.Decode(ci.Mark); ok {
		rec.Verdict = d.Action.String()
	}
	rec.Explain = "decided before ips knew the flow (an earlier run) or while its flow list was full; only the ct mark is known"
	return rec
}

// loop checks the flows the DPI engine forgot against conntrack, and
// reconciles after lost events.
func (t *flowTracker) loop() {
	defer close(t.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastFull := time.Now()
	for {
		select {
		case <-t.stop:
			return
		case k := <-t.userEnds:
			if _, err := t.ct.Get(k); errors.Is(err, unix.ENOENT) {
				t.mu.Lock()
				if tf := t.flows[k]; tf != nil && tf.goneAt.IsZero() {
					tf.goneAt = time.Now()
				}
				t.mu.Unlock()
			}
		case now := <-tick.C:
			// After lost events, reconcile at most every 10 s: under a
			// flood a dump of a full table is what costs.
			if (now.Sub(lastFull) > 10*time.Second && t.lost.Swap(false)) || now.Sub(lastFull) > 5*time.Minute {
				t.reconcile(now)
				lastFull = now
			}
			t.endGone(now)
		}
	}
}

// reconcile marks the tracked flows conntrack no longer has.
func (t *flowTracker) reconcile(now time.Time) {
	t.stats.reconciles.Add(1)
	live := make(map[verdict.Tuple]struct{})
	bit := t.layout.DecidedBit()
	err := t.ct.DumpInfo(bit, bit, func(ci nfq.ConnInfo) {
		live[ci.Tuple] = struct{}{}
		if ci.Reply.Src.IsValid() {
			live[verdict.Tuple{Proto: ci.Reply.Proto, Src: ci.Reply.Dst, Dst: ci.Reply.Src}] = struct{}{}
		}
	})
	if err != nil {
		t.log.Warn("flow accounting: conntrack dump", "err", err)
		t.lost.Store(true)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, tf := range t.flows {
		if _, ok := live[k]; !ok && now.Sub(tf.decidedAt) > 5*time.Second && tf.goneAt.IsZero() {
			tf.goneAt = now
		}
	}
}

// endGone ends the flows conntrack had no entry for two seconds ago
// (time for a destroy event in flight to end them first): flows dropped
// before conntrack confirmed them, or whose events were lost.
func (t *flowTracker) endGone(now time.Time) {
	type ended struct {
		rec   flowRecord
		first int64
	}
	var out []ended
	t.mu.Lock()
	for k, tf := range t.flows {
		if !tf.goneAt.IsZero() && now.Sub(tf.goneAt) > 2*time.Second {
			delete(t.flows, k)
			if !tf.closed {
				out = append(out, ended{tf.rec, tf.first})
			}
		}
	}
	t.mu.Unlock()
	for i := range out {
		r := &out[i].rec
		last := r.LastSeenMS * 1e6
		if last == 0 {
			last = now.UnixNano()
		}
		t.emit(r, userAcct(r, out[i].first, last), "idle")
	}
}

// liveFlow is one line of "ips flows".
type liveFlow struct {
	flowRecord
	flowAcct
}

// snapshot lists the live decided flows: conntrack's decided entries with
// their counters, joined with what ips knows of them, plus the decided
// flows conntrack does not hold (dropped before it confirmed them) with
// the counts of the packets ips saw.
func (t *flowTracker) snapshot() ([]liveFlow, error) {
	var cis []nfq.ConnInfo
	bit := t.layout.DecidedBit()
	if err := t.ct.DumpInfo(bit, bit, func(ci nfq.ConnInfo) { cis = append(cis, ci) }); err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]liveFlow, 0, len(cis))
	seen := make(map[*tracked]bool)
	t.mu.Lock()
	for i := range cis {
		ci := &cis[i]
		_, tf := t.lookup(ci)
		var rec flowRecord
		var first int64
		if tf != nil {
			rec, first = tf.rec, tf.first
			seen[tf] = true
		} else {
			rec = t.unknownRecord(ci)
		}
		a := kernelAcct(&rec, ci, first, now)
		if first != 0 {
			a.AgeMS = (now.UnixNano() - first) / 1e6
		}
		out = append(out, liveFlow{rec, *a})
	}
	for _, tf := range t.flows {
		if seen[tf] || !tf.goneAt.IsZero() || tf.closed {
			continue
		}
		rec := tf.rec
		a := userAcct(&rec, tf.first, rec.LastSeenMS*1e6)
		a.AgeMS = (now.UnixNano() - tf.first) / 1e6
		out = append(out, liveFlow{rec, *a})
	}
	t.mu.Unlock()
	return out, nil
}

// count is the number of tracked flows.
func (t *flowTracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.flows)
}

// rateLimit is a token bucket of rate events a second (burst: one
// second's worth).
type rateLimit struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func (r *rateLimit) allow(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last.IsZero() {
		r.tokens = r.rate
	} else {
		r.tokens = min(r.rate, r.tokens+now.Sub(r.last).Seconds()*r.rate)
	}
	r.last = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}
