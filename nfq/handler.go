package nfq

import (
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"ips/verdict"
)

// handler turns the datagrams of one receive batch into one buffer of
// verdict messages. It belongs to one queue worker: no locks, and nothing
// allocated per packet once its buffers have grown.
//
// Verdicts, per packet:
//   - undecided (or a final decision without an action): NF_ACCEPT with
//     no mark; these are folded into one NFQNL_MSG_VERDICT_BATCH for the
//     highest such id of the batch, sent after the individual verdicts;
//   - final decision: NF_REPEAT with the packet mark = the decision bits
//     under the mask (other bits kept). The packet re-enters our chain,
//     whose first rule copies the bits into the ct mark and whose next
//     rules apply the action, so even the deciding packet of a dropped or
//     rejected flow is dropped or rejected by the kernel;
//   - the decider failed (panicked): the fail-mode verdict, NF_ACCEPT
//     (fail-open) or NF_DROP (fail-closed).
type handler struct {
	queue  uint16
	dec    verdict.Decider
	layout verdict.MarkLayout
	fail   verdict.FailMode
	sides  *atomic.Pointer[sideTable]
	log    *slog.Logger
	// portFilter: see queueOptions.portFilter.
	portFilter bool

	msg    packetMsg
	pkt    verdict.Packet
	out    msgBuf
	accMax uint32
	hasAcc bool
	now    int64
	side   *sideTable

	l local
	c *counters
	// arrivals are the batch's packets' receive timestamps, for the
	// arrival-to-verdict histogram.
	arrivals []int64

	lastPanicLog time.Time
}

func newHandler(queue uint16, dec verdict.Decider, layout verdict.MarkLayout, fail verdict.FailMode,
	sides *atomic.Pointer[sideTable], c *counters, log *slog.Logger) *handler {
	h := &handler{queue: queue, dec: dec, layout: layout, fail: fail, sides: sides, c: c, log: log}
	h.out.b = make([]byte, 0, 64*48)
	h.arrivals = make([]int64, 0, 1024)
	return h
}

// begin starts a batch received at now (Unix nanoseconds).
func (h *handler) begin(now int64) {
	h.out.reset()
	h.hasAcc = false
	h.now = now
	h.arrivals = h.arrivals[:0]
	if h.sides != nil {
		h.side = h.sides.Load()
	}
}

// datagram handles one received datagram, which holds one or more
// netlink messages.
func (h *handler) datagram(b []byte) {
	for {
		m, rest, ok := nextMsg(b)
		if !ok {
			if len(b) > 0 {
				h.l.malformed++
			}
			return
		}
		switch {
		case m.typ == subsysQueue<<8|nfqnlMsgPacket:
			h.packet(m.body)
		case m.typ == nlmsgError:
			if e, ok := errnoOf(m.body); ok && e != 0 {
				h.l.verdictErrors++
			}
		}
		b = rest
	}
}

func (h *handler) packet(body []byte) {
	m := &h.msg
	if err := parsePacket(body, m); err != nil {
		// Without a packet id there is nothing to give a verdict to; the
		// kernel never sends such a message.
		h.l.malformed++
		return
	}
	h.l.packets++
	if m.Arrival != 0 && len(h.arrivals) < cap(h.arrivals) {
		h.arrivals = append(h.arrivals, m.Arrival)
	}
	if m.CapLen != 0 {
		h.l.truncated++
	}
	if m.SkbInfo&skbInfoGSO != 0 {
		h.l.gso++
	}
	p := &h.pkt
	p.Data = m.Payload
	p.Time = h.now
	p.InIf, p.OutIf, p.PhysIn, p.PhysOut = m.InIf, m.OutIf, m.PhysIn, m.PhysOut
	p.Mark = m.Mark
	p.ChecksumUnverified = m.SkbInfo&(skbInfoCsumNotVerified|skbInfoCsumNotReady) == skbInfoCsumNotVerified
	p.HasHWAddr = m.HWLen == 6
	copy(p.HWAddr[:], m.HWAddr[:6])
	p.From = verdict.SideUnknown
	if h.side != nil {
		p.From = h.side.from(m)
		if h.portFilter && !h.side.crossing(m) {
			h.l.foreign++
			h.out.appendVerdict(h.queue, m.ID, nfRepeat, h.layout.Apply(m.Mark, foreignDecision), true)
			p.Data = nil
			return
		}
	}
	d, ok := h.decide()
	p.Data = nil
	switch {
	case !ok:
		h.l.failVerdicts++
		if h.fail == verdict.FailClosed {
			h.out.appendVerdict(h.queue, m.ID, nfDrop, 0, false)
		} else {
			h.acceptLater(m.ID)
		}
	case d.Final && d.Action != verdict.None:
		if int(d.Action) < len(h.l.decided) {
			h.l.decided[d.Action]++
		}
		h.out.appendVerdict(h.queue, m.ID, nfRepeat, h.layout.Apply(m.Mark, d), true)
	default:
		h.l.undecided++
		h.acceptLater(m.ID)
	}
}

func (h *handler) acceptLater(id uint32) {
	// Ids rise within a queue, but compare anyway: the batch verdict must
	// cover every packet accepted in this batch.
	if !h.hasAcc || int32(id-h.accMax) > 0 {
		h.accMax = id
	}
	h.hasAcc = true
}

// decide calls the decider, turning a panic into ok=false so one bad
// packet costs its own verdict and not the worker.
func (h *handler) decide() (d verdict.Decision, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			h.l.panics++
			h.logPanic(r)
		}
	}()
	return h.dec.Decide(&h.pkt), true
}

func (h *handler) logPanic(r any) {
	if h.log == nil || time.Since(h.lastPanicLog) < time.Second {
		return
	}
	h.lastPanicLog = time.Now()
	h.log.Error("decider panicked; packet given the fail-mode verdict",
		"queue", h.queue, "fail", h.fail.String(), "panic", r, "stack", string(debug.Stack()))
}

// finish appends the batch verdict for the accepted packets and returns
// the bytes to write (empty when the batch had no packets).
func (h *handler) finish() []byte {
	if h.hasAcc {
		h.out.appendBatchVerdict(h.queue, h.accMax, nfAccept)
		h.hasAcc = false
	}
	return h.out.b
}

// flush adds the batch's counts, with the batch's time in user space and
// verdictAt, when its verdicts were written (Unix nanoseconds).
func (h *handler) flush(batchNanos, verdictAt int64) {
	h.c.add(&h.l, batchNanos)
	h.c.addWaits(h.arrivals, verdictAt)
}

// sideTable maps interface indexes to the side of the gateway they face.
// It is rebuilt when interfaces change and swapped atomically.
type sideTable struct {
	index []uint32
	side  []verdict.Side
}

func (t *sideTable) lookup(ifindex uint32) verdict.Side {
	if ifindex == 0 {
		return verdict.SideUnknown
	}
	for i, x := range t.index {
		if x == ifindex {
			return t.side[i]
		}
	}
	return verdict.SideUnknown
}

// crossing says whether a packet goes from one side to the other.
func (t *sideTable) crossing(m *packetMsg) bool {
	in, out := t.from(m), t.lookup(m.PhysOut)
	if out == verdict.SideUnknown {
		out = t.lookup(m.OutIf)
	}
	return in != verdict.SideUnknown && out != verdict.SideUnknown && in != out
}

// foreignDecision passes, for good, a flow that does not cross between
// the LAN and the WAN.
var foreignDecision = verdict.Decision{Action: verdict.Pass, Final: true, PolicyID: -1}

// from says which side a packet came from: its bridge port when it was
// bridged, else its input interface.
func (t *sideTable) from(m *packetMsg) verdict.Side {
	if s := t.lookup(m.PhysIn); s != verdict.SideUnknown {
		return s
	}
	return t.lookup(m.InIf)
}
