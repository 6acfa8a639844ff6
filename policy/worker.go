package policy

import (
	"io"
	"log/slog"
	"net/netip"

	"ips/dpi"
	"ips/pools"
	"ips/verdict"
)

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	// Engine holds the per-worker DPI engine settings (Catalog and
	// DNSCache shared). The current Set's catalog replaces Catalog, since
	// the Set's custom protocol ids come from it. Engine.OnEnd, when set,
	// is called for every flow end (active timeouts included) before
	// Ended, while Decision(f) still answers for the flow.
	Engine dpi.Config
	Policy *Holder
	// LAN is the fallback LAN detection when Packet.From is unknown: a
	// flow endpoint inside these prefixes is the LAN host. Without it (or
	// when it does not tell), the private (RFC 1918/4193, link-local)
	// endpoint is, else the client.
	LAN []netip.Prefix
	// Ended, when set, is called for every flow the worker forgets, with
	// its final record fields.
	Ended func(f *dpi.Flow, d verdict.Decision)
	// Decided, when set, is called once when a flow's decision becomes
	// final (and again if Revise made it provisional and it settles anew).
	Decided func(f *dpi.Flow, d verdict.Decision)
	// DNSHeld, when set, is called once for each DNS flow whose pass was
	// kept provisional for its answer (see WorkerStats.DNSHeld).
	DNSHeld func(f *dpi.Flow)
	// Fail is what packets the worker cannot judge get (undecodable
	// packets, no policy loaded): FailOpen passes them, FailClosed drops.
	Fail verdict.FailMode
}

// Worker is a verdict.Decider: one DPI engine and the policy judging its
// flows, for one queue worker goroutine.
type Worker struct {
	cfg   WorkerConfig
	log   *slog.Logger
	eng   *dpi.Engine
	pkt   dpi.Packet
	set   *Set // the Set whose catalog the engine uses
	flows []flowState
	stats WorkerStats

	failRule, noPolicyRule string
}

// WorkerStats are a worker's counters.
type WorkerStats struct {
	Packets      uint64
	Undecodable  uint64 // packets that did not decode (passed per the fail mode)
	Unattributed uint64 // packets of no flow (non-first fragments)
	NoPolicy     uint64 // packets judged with no Set loaded
	Decided      uint64 // flows whose decision became final
	Revised      uint64 // decisions changed by Revise
	// DNSHeld counts DNS flows whose pass was decidable on the query but
	// kept queued until the answer (or the DNS dissector's packet budget)
	// so that the answer could teach the name cache.
	DNSHeld uint64
}

// flowState is what the worker keeps per flow, in a side table indexed
// by the flow's slot in the engine's table.
type flowState struct {
	live      bool
	clientLAN bool // the client is the LAN-side host
	sideKnown bool // told by Packet.From rather than guessed
	final     bool // Decided has been called
	held      bool // a final pass held for the DNS answer (counted once)
	set       *Set // the Set host was resolved under
	hadMAC    bool // the LAN host's MAC was known when host was resolved
	host      Host
	d         verdict.Decision
}

var _ verdict.Decider = (*Worker)(nil)

// NewWorker makes a worker with its own engine.
func NewWorker(cfg WorkerConfig, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w := &Worker{cfg: cfg, log: log}
	user := cfg.Engine.OnEnd
	ec := cfg.Engine
	ec.OnEnd = func(f *dpi.Flow, why dpi.EndReason) { w.onEnd(f, why, user) }
	if s := cfg.Policy.load(); s != nil && s.catalog != nil {
		ec.Catalog = s.catalog
		w.set = s
	}
	w.eng = dpi.NewEngine(ec)
	w.failRule = "cannot judge the packet → " + cfg.Fail.Action().String() + " (fail " + cfg.Fail.String() + ")"
	w.noPolicyRule = "no policy loaded → " + cfg.Fail.Action().String() + " (fail " + cfg.Fail.String() + ")"
	return w
}

func (h *Holder) load() *Set {
	if h == nil {
		return nil
	}
	return h.Load()
}

// Engine is the worker's DPI engine (for its statistics).
func (w *Worker) Engine() *dpi.Engine { return w.eng }

// Stats returns the worker's counters.
func (w *Worker) Stats() WorkerStats { return w.stats }

// Decide decodes p (it starts at the IP header), runs the engine and
// judges the flow. While the returned Decision is not Final its Action
// is provisional — what the flow would get if inspection stopped now —
// and the caller should accept the packet and keep queueing the flow
// (verdict.MarkLayout.Value encodes such a decision as 0). Packets that
// do not decode get the fail mode's action, not final, and are counted.
func (w *Worker) Decide(p *verdict.Packet) verdict.Decision {
	w.stats.Packets++
	if err := w.pkt.DecodeIP(p.Data); err != nil {
		w.stats.Undecodable++
		return verdict.Decision{Action: w.cfg.Fail.Action(), PolicyID: -1, Rule: w.failRule}
	}
	switch p.From { // DNS answers are believed only from the side the query went to
	case verdict.SideLAN:
		w.pkt.Ingress = dpi.IngressInside
	case verdict.SideWAN:
		w.pkt.Ingress = dpi.IngressOutside
	}
	if p.HasHWAddr {
		w.pkt.SrcMAC, w.pkt.HasMAC = p.HWAddr, true
	}
	// The kernel verified the checksum or the sender offloads it, unless
	// it says nobody did (captures go through ProcessDecoded: unchecked).
	w.pkt.Checksum = dpi.ChecksumTrusted
	if p.ChecksumUnverified {
		w.pkt.Checksum = dpi.ChecksumUnverified
	}
	_, d := w.process(&w.pkt, p.Time, p.From)
	return d
}

// ProcessDecoded is Decide for a packet already decoded (by ips replay,
// from a capture with its link layer): the flow (nil for a packet of no
// flow) and its decision.
func (w *Worker) ProcessDecoded(p *dpi.Packet, now int64) (*dpi.Flow, verdict.Decision) {
	w.stats.Packets++
	return w.process(p, now, verdict.SideUnknown)
}

func (w *Worker) process(p *dpi.Packet, now int64, from verdict.Side) (*dpi.Flow, verdict.Decision) {
	set := w.cfg.Policy.load()
	w.useSet(set)
	f, dir := w.eng.Process(p, now)
	if f == nil {
		w.stats.Unattributed++
		return nil, verdict.Decision{Action: w.cfg.Fail.Action(), PolicyID: -1, Rule: w.failRule}
	}
	st := w.state(f)
	if !st.live {
		*st = flowState{live: true, clientLAN: ClientIsLAN(f.Client().Addr(), f.Server().Addr(), w.cfg.LAN)}
	}
	if !st.sideKnown && from != verdict.SideUnknown {
		// The packet came in on a known side: its sender is the LAN host
		// when it came from the LAN.
		lan := (from == verdict.SideLAN) == (dir == dpi.ToServer)
		if lan != st.clientLAN {
			st.clientLAN, st.set = lan, nil
		}
		st.sideKnown = true
	}
	if set == nil {
		w.stats.NoPolicy++
		st.d = verdict.Decision{Action: w.cfg.Fail.Action(), PolicyID: -1, Rule: w.noPolicyRule}
		return f, st.d
	}
	if st.final && st.set == set {
		return f, st.d
	}
	return f, w.judge(f, st, set, true)
}

// useSet makes the engine use the catalog of the Set in force.
func (w *Worker) useSet(set *Set) {
	if set != w.set {
		w.set = set
		if set != nil && set.catalog != nil {
			w.eng.SetCatalog(set.catalog)
		}
	}
}

// state returns the side-table entry of a flow, growing the table when
// the engine's table reaches a new high-water mark.
func (w *Worker) state(f *dpi.Flow) *flowState {
	i := int(f.Slot())
	if i >= len(w.flows) {
		n := (i/1024 + 1) * 1024
		w.flows = append(w.flows, make([]flowState, n-len(w.flows))...)
	}
	return &w.flows[i]
}

// judge resolves the flow's hosts when needed and judges it.
func (w *Worker) judge(f *dpi.Flow, st *flowState, set *Set, live bool) verdict.Decision {
	lanDir := dpi.ToClient
	if st.clientLAN {
		lanDir = dpi.ToServer
	}
	hasMAC := f.HasMAC[lanDir]
	if st.set != set || hasMAC != st.hadMAC {
		local, remote := f.Server().Addr(), f.Client().Addr()
		if st.clientLAN {
			local, remote = remote, local
		}
		st.host = set.Resolve(local, pools.MAC(f.MAC[lanDir]), hasMAC, remote)
		st.host.Proto, st.host.Port = f.Proto(), f.Server().Port()
		st.set, st.hadMAC = set, hasMAC
	}
	// While the LAN host has sent nothing, its MAC (and so a MAC pool)
	// may still come.
	st.host.MACPending = live && !hasMAC && f.Packets[lanDir] == 0 && set.HasMACPools()
	d := set.Judge(&st.host, &f.Result)
	if live && d.Final && d.Action == verdict.Pass && dnsAnswerMayCome(f) {
		// A pass decided on the DNS query would hand the flow to the
		// kernel before its answer, and the answer would never teach the
		// name cache that names later flows to those addresses. The pass
		// stays provisional until the engine has read the answer or its
		// DNS packet budget ran out; a drop needs no answer (none comes).
		d.Final = false
		if !st.held {
			st.held = true
			w.stats.DNSHeld++
			if w.cfg.DNSHeld != nil {
				w.cfg.DNSHeld(f)
			}
		}
	}
	st.d = d
	if live && d.Final && !st.final {
		st.final = true
		w.stats.Decided++
		if w.cfg.Decided != nil {
			w.cfg.Decided(f, d)
		}
	}
	return d
}

// dnsAnswerMayCome reports whether the flow may still show the engine a
// DNS answer that teaches its name cache: a query awaits its answer
// (FieldDNSAnswer), or a TCP connection to port 53 has not sent its query
// yet (the handshake comes first). Both end when the engine finishes the
// flow: the answer read, or its DNS wait or DPI packet budget spent.
func dnsAnswerMayCome(f *dpi.Flow) bool {
	r := &f.Result
	if r.State.Final() {
		return false
	}
	if r.Pending&dpi.FieldDNSAnswer != 0 {
		return true
	}
	return r.State == dpi.Inspecting && f.Proto() == dpi.IPProtoTCP && f.Server().Port() == 53
}

// Decision is the current decision for a live flow.
func (w *Worker) Decision(f *dpi.Flow) verdict.Decision {
	if int(f.Slot()) >= len(w.flows) {
		return verdict.Decision{PolicyID: -1}
	}
	return w.flows[f.Slot()].d
}

// LANHost is the LAN-side address of a live flow as the policy resolved
// it (the host its pool was chosen for); invalid before the flow was
// judged.
func (w *Worker) LANHost(f *dpi.Flow) netip.Addr {
	if int(f.Slot()) >= len(w.flows) {
		return netip.Addr{}
	}
	return w.flows[f.Slot()].host.Local
}

func (w *Worker) onEnd(f *dpi.Flow, why dpi.EndReason, user func(*dpi.Flow, dpi.EndReason)) {
	st := w.state(f)
	if !st.live {
		*st = flowState{live: true, clientLAN: ClientIsLAN(f.Client().Addr(), f.Server().Addr(), w.cfg.LAN)}
	}
	if set := w.cfg.Policy.load(); set != nil {
		w.judge(f, st, set, false)
	}
	if user != nil {
		user(f, why)
	}
	if why == dpi.EndActive {
		return // reported, and continuing
	}
	if w.cfg.Ended != nil {
		w.cfg.Ended(f, st.d)
	}
	*st = flowState{}
}

// Revise re-judges every flow whose decision was final, under the Set now
// in force and from the DPI result the engine kept, and reports those
// whose action changed with their conntrack tuple (client → server). A
// reported decision that is not final means the flow needs inspecting
// again: the caller clears its mark so that its next packet is queued.
func (w *Worker) Revise(changed func(verdict.Tuple, verdict.Decision)) {
	set := w.cfg.Policy.load()
	w.useSet(set)
	if set == nil {
		return
	}
	n := 0
	w.eng.Each(func(f *dpi.Flow) {
		if int(f.Slot()) >= len(w.flows) {
			return
		}
		st := &w.flows[f.Slot()]
		if !st.live || !st.final {
			return
		}
		old := st.d
		d := w.judge(f, st, set, false)
		// A change of monitor mode alone (an "enforce" switched at
		// reload) rewrites the mark too: the decisions already made are
		// then enforced, or stop being.
		if d.Final == old.Final && d.Action == old.Action && d.Class == old.Class && d.Monitor == old.Monitor {
			return
		}
		st.final = d.Final
		n++
		w.stats.Revised++
		if changed != nil {
			changed(verdict.Tuple{Proto: f.Proto(), Src: f.Client(), Dst: f.Server()}, d)
		}
	})
	if n > 0 {
		w.log.Debug("revised decisions", "changed", n, "policy", set.file)
	}
}

// Expire ends flows idle at nowNanos (the daemon calls it on a timer).
func (w *Worker) Expire(nowNanos int64) { w.eng.Expire(nowNanos) }

// Flush ends every flow.
func (w *Worker) Flush() { w.eng.Flush() }

// ClientIsLAN tells which end of a flow is the LAN host when no interface
// says so: an address inside lan, else a private one (RFC 1918, RFC 4193,
// link-local), else the client.
func ClientIsLAN(client, server netip.Addr, lan []netip.Prefix) bool {
	if len(lan) > 0 {
		c, s := inAny(client, lan), inAny(server, lan)
		if c != s {
			return c
		}
		if c {
			return true
		}
	}
	c, s := isPrivate(client), isPrivate(server)
	if c != s {
		return c
	}
	return true
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func isPrivate(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsPrivate() || a.IsLinkLocalUnicast()
}
