package nfq

import (
	"sync/atomic"
	"time"

	"ips/verdict"
)

// QueueStats are one queue's counters since it was opened. The worker
// adds to them once per batch; readers may load them at any time.
type QueueStats struct {
	Queue uint16

	Packets   uint64 // packet messages received
	Batches   uint64 // receive calls that returned packets
	Undecided uint64 // NF_ACCEPT without a mark: the flow stays queued
	// Decided counts NF_REPEAT verdicts by action (index verdict.Action):
	// the packet's mark carries the decision into the ct mark.
	Decided [8]uint64
	// Monitored counts NF_REPEAT verdicts of monitored decisions by the
	// would-be action (index verdict.Action): the mark carried "pass"
	// (verdict.Decision.Monitor). They are not in Decided.
	Monitored [8]uint64
	// FailVerdicts counts packets that got the fail-mode verdict because
	// the decider failed (panicked) on them.
	FailVerdicts uint64
	Panics       uint64
	Truncated    uint64 // payload shorter than the packet (copy range or a short buffer)
	GSO          uint64 // packets queued as one GSO super-packet
	Malformed    uint64 // messages that could not be parsed
	// Foreign counts packets of flows that do not cross between a LAN and
	// a WAN interface, passed for good without asking the decider.
	Foreign uint64

	ENOBUFS       uint64 // receive buffer overruns: the kernel could not deliver
	RecvErrors    uint64 // other receive errors (never fatal)
	SendErrors    uint64 // verdict writes that failed
	VerdictErrors uint64 // NLMSG_ERROR replies to verdicts (e.g. ENOENT: unknown id)

	Revisions uint64 // flows whose decision changed on reload

	// Latency is the time a batch spent in user space, from the receive
	// returning to the verdicts being written, counted once per packet.
	Latency Histogram
	// Wait is the latency the queue adds to each packet: from its
	// arrival on the gateway (the kernel's receive timestamp) to its
	// verdict. It includes the time the packet waited in the kernel
	// queue for the worker, which Latency does not see. Empty when the
	// kernel gives no timestamps.
	Wait Histogram

	// From /proc/net/netfilter/nfnetlink_queue, when readable.
	Kernel ProcQueue
}

// LatencyBounds are the upper bounds of the latency histogram buckets.
var LatencyBounds = [...]time.Duration{
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond,
	75 * time.Microsecond, 100 * time.Microsecond, 125 * time.Microsecond, 150 * time.Microsecond, 175 * time.Microsecond,
	200 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 100 * time.Millisecond,
}

// Histogram is a cumulative-free bucket count: Counts[i] holds samples up
// to LatencyBounds[i] and above LatencyBounds[i-1]; the last bucket holds
// the rest.
type Histogram struct {
	Counts [len(LatencyBounds) + 1]uint64
	Sum    time.Duration
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// counters is the live, atomically updated form of QueueStats.
type counters struct {
	packets, batches, undecided                     atomic.Uint64
	decided, monitored                              [8]atomic.Uint64
	failVerdicts, panics, truncated, gso, malformed atomic.Uint64
	enobufs, recvErrors, sendErrors, verdictErrors  atomic.Uint64
	revisions, foreign                              atomic.Uint64
	latency                                         [len(LatencyBounds) + 1]atomic.Uint64
	latencySum                                      atomic.Int64
	wait                                            [len(LatencyBounds) + 1]atomic.Uint64
	waitSum                                         atomic.Int64
}

// addWaits counts each arrival's wait until verdictAt, summed over the
// batch first so the shared counters take a few atomic adds per batch,
// not two per packet. Stamps from the future or over a minute old are
// clock steps, not waits: skipped.
func (c *counters) addWaits(arrivals []int64, verdictAt int64) {
	if len(arrivals) == 0 {
		return
	}
	var n [len(LatencyBounds) + 1]uint64
	var sum int64
	for _, a := range arrivals {
		w := verdictAt - a
		if w < 0 || w > int64(time.Minute) {
			continue
		}
		n[bucket(time.Duration(w))]++
		sum += w
	}
	for i, k := range n {
		if k != 0 {
			c.wait[i].Add(k)
		}
	}
	c.waitSum.Add(sum)
}

func bucket(d time.Duration) int {
	i := 0
	for i < len(LatencyBounds) && d > LatencyBounds[i] {
		i++
	}
	return i
}

// local is a batch's worth of counts, added to counters once.
type local struct {
	packets, undecided, failVerdicts, panics, truncated, gso, malformed, verdictErrors, foreign uint64
	decided, monitored                                                                          [8]uint64
}

func (c *counters) add(l *local, batchNanos int64) {
	c.batches.Add(1)
	c.packets.Add(l.packets)
	if l.undecided != 0 {
		c.undecided.Add(l.undecided)
	}
	for i, n := range l.decided {
		if n != 0 {
			c.decided[i].Add(n)
		}
	}
	for i, n := range l.monitored {
		if n != 0 {
			c.monitored[i].Add(n)
		}
	}
	for _, p := range []struct {
		n uint64
		c *atomic.Uint64
	}{{l.failVerdicts, &c.failVerdicts}, {l.panics, &c.panics}, {l.truncated, &c.truncated},
		{l.gso, &c.gso}, {l.malformed, &c.malformed}, {l.verdictErrors, &c.verdictErrors},
		{l.foreign, &c.foreign}} {
		if p.n != 0 {
			p.c.Add(p.n)
		}
	}
	if l.packets != 0 {
		c.latency[bucket(time.Duration(batchNanos))].Add(l.packets)
		c.latencySum.Add(batchNanos * int64(l.packets))
	}
	*l = local{}
}

func (c *counters) snapshot(q uint16) QueueStats {
	s := QueueStats{
		Queue: q, Packets: c.packets.Load(), Batches: c.batches.Load(), Undecided: c.undecided.Load(),
		FailVerdicts: c.failVerdicts.Load(), Panics: c.panics.Load(), Truncated: c.truncated.Load(),
		GSO: c.gso.Load(), Malformed: c.malformed.Load(), Foreign: c.foreign.Load(), ENOBUFS: c.enobufs.Load(),
		RecvErrors: c.recvErrors.Load(), SendErrors: c.sendErrors.Load(),
		VerdictErrors: c.verdictErrors.Load(), Revisions: c.revisions.Load(),
	}
	for i := range c.decided {
		s.Decided[i] = c.decided[i].Load()
		s.Monitored[i] = c.monitored[i].Load()
	}
	for i := range c.latency {
		s.Latency.Counts[i] = c.latency[i].Load()
	}
	s.Latency.Sum = time.Duration(c.latencySum.Load())
	for i := range c.wait {
		s.Wait.Counts[i] = c.wait[i].Load()
	}
	s.Wait.Sum = time.Duration(c.waitSum.Load())
	return s
}

// DecidedTotal sums the NF_REPEAT verdicts of every action.
func (s *QueueStats) DecidedTotal() uint64 {
	var n uint64
	for _, v := range s.Decided {
		n += v
	}
	return n
}

// MonitoredBy is the count of NF_REPEAT verdicts of monitored decisions
// whose would-be action is a (the kernel was told "pass").
func (s *QueueStats) MonitoredBy(a verdict.Action) uint64 {
	if int(a) < len(s.Monitored) {
		return s.Monitored[a]
	}
	return 0
}

// DecidedBy is the count of NF_REPEAT verdicts for one action.
func (s *QueueStats) DecidedBy(a verdict.Action) uint64 {
	if int(a) < len(s.Decided) {
		return s.Decided[a]
	}
	return 0
}
