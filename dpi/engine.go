// Package dpi is ips's deep packet inspection engine: zero-copy decoding,
// a bounded flow table, bounded TCP reassembly and per-protocol dissectors
// that classify flows with nDPI's protocol, category and risk names.
//
// An Engine belongs to one goroutine (one per queue worker, or the replay
// loop). Only the Catalog and the DNSCache are shared.
package dpi

import (
	"sync/atomic"
	"time"
)

// Config tunes an engine. Zero values take the defaults.
type Config struct {
	// MaxFlows bounds the flow table (at most MaxTableFlows). When it is
	// full a flow is evicted to make room: an undecided flow idle for a
	// second or more, else the least recently seen decided flow, else the
	// least recently seen one. Default 262144.
	MaxFlows int
	// IdleTimeout ends a flow not seen for this long (capture time).
	// Default 30 s.
	IdleTimeout time.Duration
	// ActiveTimeout reports a long flow and restarts its counters (its
	// classification is kept). Default 300 s.
	ActiveTimeout time.Duration
	// TCPBudget and UDPBudget are the packets inspected before giving up.
	// Defaults 10 and 16.
	TCPBudget, UDPBudget int
	// StreamBytes bounds TCP reassembly per direction: the in-order
	// buffer a dissector reads a split message from, and how far past a
	// hole out-of-order segments are held. Default 16 KiB.
	StreamBytes int
	// MaxStreams bounds the reassembly buffers (in-order and out-of-order
	// alike) alive at once in the engine. Default 4096 (64 MiB with the
	// default StreamBytes).
	MaxStreams int
	// DNSPending bounds the flows holding recorded DNS queries (64 bytes
	// each) at once; beyond it a query is not recorded and its answer
	// teaches nothing. Default DefaultDNSPending.
	DNSPending int
	// Catalog maps hosts and addresses to applications. Default: the
	// embedded catalog.
	Catalog *Catalog
	// DNSCache is shared by engines that should learn names from each
	// other's DNS answers. Default: a private cache.
	DNSCache *DNSCache
	// OnEnd is called when a flow ends, before it is recycled: copy what
	// is needed, do not keep the *Flow.
	OnEnd func(f *Flow, why EndReason)
}

// EndReason says why a flow ended.
type EndReason uint8

const (
	EndIdle    EndReason = iota // idle timeout
	EndActive                   // active timeout: reported, then continued
	EndEvicted                  // the table was full
	EndClosed                   // a new connection reused the key after FIN/RST
	EndFlush                    // the capture ended or the engine was flushed
)

var endNames = [...]string{"idle", "active", "evicted", "closed", "flush"}

func (r EndReason) String() string {
	if int(r) < len(endNames) {
		return endNames[r]
	}
	return "unknown"
}

// Stats are an engine's counters.
type Stats struct {
	Packets, Bytes     uint64
	Flows              uint64 // flows created
	Active             int    // flows in the table now
	Expired, Evicted   uint64
	LaterFragments     uint64 // non-first fragments (no ports: not attributed)
	Malformed          uint64
	StreamsExhausted   uint64
	ScratchesAllocated int
	StreamsAllocated   int

	// DNSPendingExhausted counts DNS queries not recorded (Config.DNSPending
	// reached), whose answers then teach the name cache nothing.
	DNSPendingExhausted uint64
	// ProbeEvictions counts flows evicted because a new key's probe window
	// in the table index was full (0 but for astronomically unlucky keys).
	ProbeEvictions uint64
	// Stream normalisation: TCP segments not inspected because the
	// receiver drops them (bad checksum; outside the window; RST, SYN,
	// ACK, PAWS or MD5 rules), retransmitted bytes, out-of-order segments
	// held, segments the engine could not hold though the receiver
	// would, and flows marked Uninspectable.
	TCPBadChecksum   uint64
	TCPOutOfWindow   uint64
	TCPRejected      uint64
	TCPRetransmitted uint64
	TCPHeld          uint64
	TCPLost          uint64
	Uninspectable    uint64
}

// Engine classifies packets into flows.
type Engine struct {
	cfg     Config
	t       *table
	catalog atomic.Pointer[Catalog]
	dns     *DNSCache
	intern  *interner

	scratchFree []*scratch
	tcpFree     []*[2]tcpDir
	scratches   int
	metaFree    []*Meta
	streamFree  [][]byte
	streamsOut  int
	dnsPool     []dnsPending // Config.DNSPending at most
	dnsFree     []uint16     // free dnsPool entries (index+1)
	dnsOut      int
	reasmFree   []*reasm
	reasmOut    int
	alt         Packet // the other direction's packet, when its gathered head is flushed

	stats Stats
	ctx   Ctx
	disp  *dispatch

	// recent remembers the results of flows that ended idle, so a
	// connection that resumes mid-stream after a pause longer than the idle
	// timeout keeps its classification instead of starting blind.
	recent *[recentSlots]recentResult

	// Engine-wide state of the dissector families.
	p2p      p2pShared
	realtime realtimeShared
	lan      lanShared
}

// NewEngine makes an engine.
func NewEngine(cfg Config) *Engine {
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = 1 << 18
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.ActiveTimeout <= 0 {
		cfg.ActiveTimeout = 300 * time.Second
	}
	if cfg.TCPBudget <= 0 {
		cfg.TCPBudget = 10
	}
	if cfg.UDPBudget <= 0 {
		cfg.UDPBudget = 16
	}
	if cfg.StreamBytes <= 0 {
		cfg.StreamBytes = 16 << 10
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 4096
	}
	if cfg.DNSPending <= 0 {
		cfg.DNSPending = DefaultDNSPending
	}
	if cfg.DNSCache == nil {
		cfg.DNSCache = NewDNSCache(1 << 16)
	}
	e := &Engine{
		cfg:    cfg,
		t:      newTable(cfg.MaxFlows),
		dns:    cfg.DNSCache,
		intern: newInterner(1 << 16),
	}
	if cfg.Catalog == nil {
		cfg.Catalog = DefaultCatalog()
	}
	e.catalog.Store(cfg.Catalog)
	e.ctx.e = e
	e.disp = newDispatch(dissectors)
	e.recent = new([recentSlots]recentResult)
	return e
}

// recentSlots is the size of the direct-mapped cache of results kept for
// resuming flows (a newer flow hashing to the same slot replaces an older).
const recentSlots = 1024

type recentResult struct {
	key      FlowKey
	used     bool
	clientLo bool
	ended    int64
	r        Result // Meta is not kept: it is recycled with its flow
}

// remember keeps the result of a flow that ended idle or was evicted.
func (e *Engine) remember(f *Flow) {
	r := f.Result
	if r.Master == 0 && r.App == 0 {
		return
	}
	r.Meta = nil
	e.recent[e.t.hash(&f.key)%recentSlots] = recentResult{key: f.key, used: true, clientLo: f.clientLo, ended: f.LastSeen, r: r}
}

// resume restores the result of a flow that ended idle when the same
// connection shows up again mid-stream (TCP without SYN, or UDP) within
// the active timeout.
func (e *Engine) resume(f *Flow, p *Packet, now int64) bool {
	if p.Proto == IPProtoTCP && p.TCPFlags&TCPSyn != 0 {
		return false
	}
	rr := &e.recent[e.t.hash(&f.key)%recentSlots]
	if !rr.used || rr.key != f.key {
		return false
	}
	rr.used = false
	if now-rr.ended > int64(e.cfg.ActiveTimeout) {
		return false
	}
	f.Result = rr.r
	f.clientLo = rr.clientLo // the original initiator stays the client
	f.flags |= flowContinued
	e.freeScratch(f)
	return true
}

// SetCatalog swaps the catalog; it may be called from any goroutine and
// applies to flows classified from then on.
func (e *Engine) SetCatalog(c *Catalog) {
	if c != nil {
		e.catalog.Store(c)
	}
}

// Catalog is the catalog in use.
func (e *Engine) Catalog() *Catalog { return e.catalog.Load() }

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Active = e.t.count
	s.ScratchesAllocated = e.scratches
	s.StreamsAllocated = e.streamsOut + len(e.streamFree)
	s.ProbeEvictions = e.t.probeEvictions
	return s
}

// Process accounts p to its flow and inspects it while the flow is not
// final. now is the packet time in Unix nanoseconds. It returns nil for
// packets that belong to no flow (non-first fragments).
func (e *Engine) Process(p *Packet, now int64) (*Flow, Dir) {
	e.stats.Packets++
	e.stats.Bytes += uint64(p.IPLen)
	if p.Flags&FlagLaterFragment != 0 {
		e.stats.LaterFragments++
		return nil, ToServer
	}
	if p.Flags&FlagMalformed != 0 {
		e.stats.Malformed++
	}
	e.expire(now, 2)

	k, srcLo := makeKey(p)
	h := e.t.hash(&k)
	f := e.t.lookup(&k, h)
	if f != nil && p.Proto == IPProtoTCP && p.TCPFlags&(TCPSyn|TCPAck) == TCPSyn &&
		(f.flags&(flowRst|flowFinClient|flowFinServer) != 0 ||
			// Inline, a decided flow's FIN and RST stay in the kernel,
			// so a client reusing the ports is told only by its SYN: a
			// final flow the server has answered never sends another.
			f.Result.State.Final() && f.Packets[ToClient] > 0) {
		e.end(f, EndClosed) // a new connection on the same ports
		f = nil
	}
	if f == nil {
		f = e.newFlow(&k, h, now)
		e.start(f, p, srcLo, now)
	} else {
		e.t.touch(f)
		if now-f.FirstSeen > int64(e.cfg.ActiveTimeout) {
			if e.cfg.OnEnd != nil {
				e.cfg.OnEnd(f, EndActive)
			}
			f.Packets, f.Bytes, f.FirstSeen = [2]uint32{}, [2]uint64{}, now
		}
	}
	dir := ToServer
	if srcLo != f.clientLo {
		dir = ToClient
	}
	f.Packets[dir]++
	f.Bytes[dir] += uint64(p.IPLen)
	if p.HasMAC && !f.HasMAC[dir] {
		f.MAC[dir], f.HasMAC[dir] = p.SrcMAC, true
	}
	f.LastSeen = now
	if p.Proto == IPProtoTCP && f.s == nil {
		// A flow being inspected has its RST and FIN judged by the
		// stream normaliser (a decoy RST must not close it).
		switch {
		case p.TCPFlags&TCPRst != 0:
			f.flags |= flowRst
		case p.TCPFlags&TCPFin != 0:
			f.flags |= flowFinClient << dir
		}
	}
	if !f.Result.State.Final() {
		e.inspect(f, p, dir)
	}
	e.t.settle(f)
	return f, dir
}

// evictIdle is how long an undecided flow must have been silent to be
// evicted before decided flows when the table is full (see table.victim):
// longer than a handshake's round trip on slow paths, shorter than the
// time a flood of new flows takes to fill any table worth having.
const evictIdle = int64(time.Second)

// newFlow makes room for a new flow when the table is full (or the key's
// probe window is) and inserts it.
func (e *Engine) newFlow(k *FlowKey, h uint64, now int64) *Flow {
	if e.t.full() {
		if old := e.t.victim(now, evictIdle); old != nil {
			e.stats.Evicted++
			e.end(old, EndEvicted)
		}
	}
	for {
		if f := e.t.insert(k, h); f != nil {
			return f
		}
		// No free index position within maxProbe of the key's home: evict
		// a flow of that window. Each round removes a flow, so this ends;
		// with a keyed hash one round is all it ever takes.
		e.stats.Evicted++
		e.end(e.t.victimIn(h, now, evictIdle), EndEvicted)
	}
}

func (e *Engine) start(f *Flow, p *Packet, srcLo bool, now int64) {
	e.stats.Flows++
	f.FirstSeen, f.LastSeen = now, now
	// The initiator is the client: the sender of a SYN, the receiver of a
	// SYN-ACK, else the sender of the first packet, unless that packet
	// plainly comes from a service port to an ephemeral one.
	client := srcLo
	switch {
	case p.Proto == IPProtoTCP && p.TCPFlags&(TCPSyn|TCPAck) == TCPSyn:
		f.flags |= flowSynSeen
	case p.Proto == IPProtoTCP && p.TCPFlags&(TCPSyn|TCPAck) == TCPSyn|TCPAck:
		client = !srcLo
	case p.SrcPort != 0 && p.SrcPort < 1024 && p.DstPort >= 1024 && p.Proto == IPProtoTCP:
		client = !srcLo
		f.flags |= flowContinued
	}
	f.clientLo = client
	f.s = e.newScratch()
	if p.Proto == IPProtoTCP {
		f.s.tcp = e.newTCPState()
	}
	if e.resume(f, p, now) {
		return
	}
	if app := ipProtoApp(p.Proto); app != 0 && p.Proto != IPProtoSCTP {
		f.Result.Master = app
		f.Result.Confidence = ConfDPI
		f.Result.DPIPackets = 1
		e.finish(f, Classified)
	}
}

func (e *Engine) newScratch() *scratch {
	if n := len(e.scratchFree); n > 0 {
		s := e.scratchFree[n-1]
		e.scratchFree = e.scratchFree[:n-1]
		return s
	}
	e.scratches++
	return new(scratch)
}

// newTCPState returns zeroed stream state for a new TCP flow, reused
// from flows that ended.
func (e *Engine) newTCPState() *[2]tcpDir {
	if n := len(e.tcpFree); n > 0 {
		t := e.tcpFree[n-1]
		e.tcpFree = e.tcpFree[:n-1]
		return t
	}
	return new([2]tcpDir)
}

func (e *Engine) freeScratch(f *Flow) {
	s := f.s
	if s == nil {
		return
	}
	f.s = nil
	if t := s.tcp; t != nil {
		e.releaseStream(&t[0])
		e.releaseStream(&t[1])
		e.releaseReasm(&t[0])
		e.releaseReasm(&t[1])
		*t = [2]tcpDir{}
		e.tcpFree = append(e.tcpFree, t)
	}
	e.quicRelease(s)
	e.dnsRelease(s)
	s.reset()
	e.scratchFree = append(e.scratchFree, s)
}

// expire ends up to n flows idle for longer than the idle timeout.
func (e *Engine) expire(now int64, n int) {
	for range n {
		f := e.t.oldest()
		if f == nil || now-f.LastSeen < int64(e.cfg.IdleTimeout) {
			return
		}
		e.stats.Expired++
		e.end(f, EndIdle)
	}
}

// Expire ends every flow idle at time now; the daemon calls it on a timer
// when traffic is light.
func (e *Engine) Expire(now int64) {
	e.expire(now, e.t.count)
}

// Flush ends every flow (at the end of a capture).
func (e *Engine) Flush() {
	for {
		f := e.t.oldest()
		if f == nil {
			return
		}
		e.end(f, EndFlush)
	}
}

// Each calls fn for every live flow, least recently seen first. fn must
// not call back into the engine.
func (e *Engine) Each(fn func(*Flow)) { e.t.each(fn) }

func (e *Engine) end(f *Flow, why EndReason) {
	if !f.Result.State.Final() && f.s != nil && f.key.proto == IPProtoTCP {
		e.flushHeads(f)
	}
	if !f.Result.State.Final() {
		e.giveUp(f)
	}
	oneWayRisk(f)
	if e.cfg.OnEnd != nil {
		e.cfg.OnEnd(f, why)
	}
	if why == EndIdle || why == EndEvicted {
		e.remember(f)
	}
	e.freeScratch(f)
	if m := f.Result.Meta; m != nil {
		*m = Meta{}
		e.metaFree = append(e.metaFree, m)
		f.Result.Meta = nil
	}
	e.t.remove(f)
}

// budget is the number of packets inspected before giving up.
func (e *Engine) budget(f *Flow) int {
	if f.key.proto == IPProtoTCP {
		return e.cfg.TCPBudget
	}
	return e.cfg.UDPBudget
}

func (e *Engine) inspect(f *Flow, p *Packet, dir Dir) {
	r := &f.Result
	if r.DPIPackets < 0xffff {
		r.DPIPackets++
	}
	s := f.s
	if p.Flags&FlagMalformed != 0 {
		r.Risks = r.Risks.With(RiskMalformedPacket)
	}
	if p.Proto != IPProtoTCP {
		if len(p.Payload) > 0 {
			if s.payloads[dir] < 0xffff {
				s.payloads[dir]++
			}
			e.dissect(f, p, dir, p.Payload)
		}
		if r.State.Final() {
			return
		}
		if s.incomplete && s.exempt < maxDatagramExempt {
			// A message spread over datagrams (QUIC CRYPTO data over
			// many Initials) is being read: not charged, up to a bound.
			s.exempt++
			return
		}
		if int(r.DPIPackets)-int(s.exempt) >= e.budget(f) {
			if s.incomplete && unnamed(r) {
				e.markUninspectable(f)
			}
			e.giveUp(f)
		}
		return
	}
	free := e.tcpSegment(f, p, dir)
	if r.State.Final() {
		return
	}
	if (s.tcp[0].lost || s.tcp[1].lost) && unnamed(r) {
		// The receiver has bytes the engine could not keep: what it
		// reads cannot be known any more.
		e.markUninspectable(f)
		e.giveUp(f)
		return
	}
	// Packets that only advance a reassembly do not count: splitting a
	// message into more pieces must not spend the budget before it is
	// whole (up to freeCap of them).
	if free && s.free < freeCap {
		s.free++
	} else if s.spent < 0xffff {
		s.spent++
	}
	if int(s.spent) >= e.budget(f) {
		e.flushHeads(f)
		if r.State.Final() {
			return
		}
		if (s.holes() || s.incomplete) && unnamed(r) {
			// The budget ran out with a hole open, or with a message
			// still half read (more pieces than freeCap).
			e.markUninspectable(f)
		}
		e.giveUp(f)
	}
}

// maxDatagramExempt bounds the packets a datagram dissector reading a
// message over several of them (QUIC CRYPTO data spread over Initials)
// may have left uncharged.
const maxDatagramExempt = 64

// giveUp ends inspection: a partial classification becomes final; with
// none, the flow is guessed from its ports and addresses.
func (e *Engine) giveUp(f *Flow) {
	r := &f.Result
	if r.State == Partial || r.Master != 0 || r.App != 0 {
		e.finish(f, Classified)
		return
	}
	cat := e.catalog.Load()
	sp, cp := f.serverPort(), f.clientPort()
	l4 := f.key.proto
	if en, ok := cat.Port(l4, sp); ok {
		r.Master, r.Confidence = en.App, ConfPort
	} else if en, ok := cat.Port(l4, cp); ok {
		r.Master, r.Confidence = en.App, ConfPort
	} else if id := PortProto(l4, sp); id != 0 {
		r.Master, r.Confidence = id, ConfPort
	} else if id := PortProto(l4, cp); id != 0 {
		r.Master, r.Confidence = id, ConfPort
	}
	// A name beats an address: the address is used only when DNS taught
	// no name for the server and no port named the protocol (as nDPI).
	if !e.learnedName(f) && r.Master == 0 {
		if en, ok := cat.Addr(f.Server().Addr()); ok && en.App != 0 {
			r.App, r.Confidence = en.App, ConfIP
			if f.s != nil && en.Category != 0 {
				f.s.catCategory = en.Category
			}
		} else if en, ok := cat.Addr(f.Client().Addr()); ok && en.App != 0 {
			r.App, r.Confidence = en.App, ConfIP
		}
	}
	r.Guessed = r.Master != 0 || r.App != 0
	e.finish(f, GivenUp)
}

// finish makes the flow final: category, DNS-learned hostname, and the
// inspection state handed back.
func (e *Engine) finish(f *Flow, st State) {
	r := &f.Result
	r.State = st
	r.Pending = 0
	if s := f.s; s != nil && s.overflowed&(1<<ToServer) != 0 && r.Hostname == "" &&
		(r.Master == 0 || r.Master == ProtoTLS || r.Master == ProtoHTTP) {
		// The request overflowed the reassembly buffer before it named
		// its server (a ClientHello larger than StreamBytes).
		e.markUninspectable(f)
	}
	e.learnedName(f)
	e.setCategory(f)
	e.portRisk(f)
	unsafeRisk(r)
	e.freeScratch(f)
}

// unsafeRisk flags protocols nDPI rates unsafe or dangerous (clear-text
// logins, SMBv1, Tor, file-sharing networks), however they were found.
func unsafeRisk(r *Result) {
	for _, id := range [2]ProtoID{r.Master, r.App} {
		switch id.Breed() {
		case BreedUnsafe, BreedPotentiallyDangerous, BreedDangerous:
			if id != 0 {
				r.Risks = r.Risks.With(RiskUnsafeProtocol)
				return
			}
		}
	}
}

// oneWayRisk flags, when a flow ends, that the responder never answered
// (nDPI's "Unidirectional Traffic": scans, blocked or dead services).
// Traffic to broadcast, multicast and loopback addresses is one-way by
// nature and is not flagged.
func oneWayRisk(f *Flow) {
	if f.Packets[ToClient] != 0 || f.Packets[ToServer] == 0 {
		return
	}
	srv, cli := f.Server().Addr(), f.Client().Addr()
	if srv.IsMulticast() || srv.IsLoopback() || cli.IsUnspecified() || srv.IsUnspecified() {
		return
	}
	if srv.Is4() {
		if b := srv.As4(); b[3] == 255 || b[3] == 0 {
			return // broadcast, or a network address; subnets are unknown here
		}
	}
	f.Result.Risks = f.Result.Risks.With(RiskUnidirectionalTraffic)
}

// portRisk flags a protocol found by inspection on a port that is not
// one of its own (nDPI's "Known Proto on Non Std Port"): a common sign of
// evasion or of a service hidden from port-based filters. The flow is on a
// standard port when either its master or its application protocol claims
// one of the flow's ports (TLS.DoH_DoT on 853 is fine).
func (e *Engine) portRisk(f *Flow) {
	r := &f.Result
	if r.Confidence != ConfDPI || f.key.proto != IPProtoTCP && f.key.proto != IPProtoUDP {
		return
	}
	defaults := false
	for _, id := range [2]ProtoID{r.Master, r.App} {
		if id == 0 {
			continue
		}
		has, on := onDefaultPort(id, f.key.proto, f.key.loPort, f.key.hiPort)
		if on {
			return
		}
		defaults = defaults || has
	}
	if defaults {
		r.Risks = r.Risks.With(RiskKnownProtoNonStdPort)
	}
}

func (e *Engine) setCategory(f *Flow) {
	r := &f.Result
	cat := e.catalog.Load()
	// DNS and mail keep their own category whatever the name asked for
	// (nDPI: DNS.Apple for captive.apple.com is Network, not ConnCheck).
	switch r.Master {
	case ProtoDNS, ProtoPOP3, ProtoPOPS, ProtoSMTP, ProtoSMTPS, ProtoIMAP, ProtoIMAPS:
		r.Category = cat.ProtoCategory(r.Master)
		return
	}
	if f.s != nil && f.s.catCategory != 0 {
		r.Category = f.s.catCategory
		return
	}
	if r.App != 0 {
		if c := cat.ProtoCategory(r.App); c != 0 {
			r.Category = c
			return
		}
	}
	r.Category = cat.ProtoCategory(r.Master)
}

func (e *Engine) meta(f *Flow) *Meta {
	if f.Result.Meta != nil {
		return f.Result.Meta
	}
	var m *Meta
	if n := len(e.metaFree); n > 0 {
		m = e.metaFree[n-1]
		e.metaFree = e.metaFree[:n-1]
	} else {
		m = new(Meta)
	}
	f.Result.Meta = m
	return m
}
