//go:build linux

package nfq

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"ips/verdict"
)

// queueOptions are the per-queue kernel settings.
type queueOptions struct {
	copyRange uint32
	maxLen    uint32
	rcvBuf    int
	batch     int
	fail      verdict.FailMode
	gso       bool
	// portFilter passes flows that do not cross between a LAN and a WAN
	// port (the queue rule could only match their bridge).
	portFilter bool
}

// bufSize is one receive slot: the largest payload the copy range allows
// (0xffff) plus the netlink and attribute headers.
const bufSize = 0x10000 + 1024

// queue is one NFQUEUE number with its own socket, worker goroutine and
// Decider. The worker is the only goroutine that reads, decides and
// writes verdicts; others talk to it through flags and a read deadline.
type queue struct {
	num   uint16
	opt   queueOptions
	sock  *nlSocket
	batch *mmsgBatch
	h     *handler
	dec   verdict.Decider
	c     counters
	log   *slog.Logger

	// Requests to the worker, seen within pollInterval.
	reviseReq atomic.Pointer[reviseRequest]
	stopReq   atomic.Bool
	done      chan struct{}

	lastRecvLog time.Time // worker only
}

type reviseRequest struct {
	done    chan []Change
	changes []Change
}

// Change is a flow whose decision changed on reload.
type Change struct {
	Tuple    verdict.Tuple
	Decision verdict.Decision
}

// Expirer is implemented by deciders that age out their flows; the worker
// calls Expire about once a second, between packets.
type Expirer interface{ Expire(nowNanos int64) }

// Flusher is implemented by deciders that report their flows when the
// queue stops.
type Flusher interface{ Flush() }

// openQueue binds queue num in the calling thread's network namespace.
func openQueue(num uint16, opt queueOptions, dec verdict.Decider, layout verdict.MarkLayout,
	sides *atomic.Pointer[sideTable], log *slog.Logger) (*queue, error) {
	sock, err := openNetfilter(opt.rcvBuf)
	if err != nil {
		return nil, fmt.Errorf("queue %d: %w", num, err)
	}
	q := &queue{num: num, opt: opt, sock: sock, dec: dec, log: log, done: make(chan struct{})}
	q.h = newHandler(num, dec, layout, opt.fail, sides, &q.c, log)
	q.h.portFilter = opt.portFilter
	if err := q.bind(); err != nil {
		sock.close()
		return nil, err
	}
	q.batch = newMmsgBatch(opt.batch, bufSize)
	if err := sock.setTimeout(pollInterval); err != nil {
		sock.close()
		return nil, err
	}
	return q, nil
}

// bind sends the bind command, the copy parameters and the flags in one
// datagram, so no packet meets the queue half configured (a queue still
// in copy mode "none" drops what it is given).
func (q *queue) bind() error {
	var m msgBuf
	m.appendConfigCmd(q.num, 1, nfqnlCfgCmdBind)
	m.appendConfigParams(q.num, 2, queueConfig{copyRange: q.opt.copyRange, maxLen: q.opt.maxLen})
	flags := uint32(0)
	if q.opt.fail == verdict.FailOpen {
		// Queue full or socket full: accept instead of drop.
		flags |= cfgFlagFailOpen
	}
	if q.opt.gso {
		// Hand over GSO super-packets whole instead of segmenting them
		// in the kernel (the payload may exceed the MTU and its checksum
		// may not be computed yet: NFQA_SKB_CSUMNOTREADY says so, and DPI
		// trusts such a packet's checksum).
		flags |= cfgFlagGSO
	}
	m.appendConfigFlags(q.num, 3, flags, cfgFlagFailOpen|cfgFlagGSO)
	// Packets may arrive as soon as the bind is done (a rule left by an
	// earlier run still queues to us): give them the fail-mode verdict.
	var v msgBuf
	other := func(d []byte) {
		mm, _, ok := nextMsg(d)
		if !ok || mm.typ != subsysQueue<<8|nfqnlMsgPacket {
			return
		}
		var p packetMsg
		if parsePacket(mm.body, &p) != nil {
			return
		}
		v.reset()
		verd := uint32(nfAccept)
		if q.opt.fail == verdict.FailClosed {
			verd = nfDrop
		}
		v.appendVerdict(q.num, p.ID, verd, 0, false)
		_ = q.sock.write(v.b)
	}
	if err := q.sock.request(m.b, 3, other); err != nil {
		switch {
		case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EPERM) && q.inUse():
			return fmt.Errorf("queue %d is bound by another process (see /proc/net/netfilter/nfnetlink_queue; stop it or choose another --queue-base): %w", q.num, err)
		case errors.Is(err, unix.EOPNOTSUPP):
			return fmt.Errorf("queue %d: the kernel refused the queue flags (fail-open/GSO need Linux 3.10): %w", q.num, err)
		}
		return fmt.Errorf("queue %d: bind: %w", q.num, err)
	}
	return nil
}

// inUse reports whether /proc says another listener holds the queue.
func (q *queue) inUse() bool {
	b, err := os.ReadFile("/proc/thread-self/net/netfilter/nfnetlink_queue")
	if err != nil {
		return false
	}
	for _, p := range parseProcQueues(b, nil) {
		if p.Queue == q.num {
			return true
		}
	}
	return false
}

// pollInterval is how long a worker blocks without traffic before it
// looks at its requests (revise, stop) and housekeeping.
const pollInterval = 100 * time.Millisecond

// run is the worker loop: receive a batch, decide each packet, write the
// batch's verdicts in one datagram. Receive errors are counted, never
// fatal. It returns when asked to stop, after draining what is waiting.
// It keeps its OS thread: it blocks in recvmmsg like a C consumer.
func (q *queue) run() {
	runtime.LockOSThread()
	defer close(q.done)
	const tick = time.Second
	exp, _ := q.dec.(Expirer)
	next := time.Now().Add(tick)
	for {
		if q.stopReq.Load() {
			q.drain()
			return
		}
		if r := q.reviseReq.Swap(nil); r != nil {
			q.revise(r)
		}
		n, err := q.sock.recv(q.batch, true)
		if err != nil {
			switch {
			case errors.Is(err, errTimeout):
			case errors.Is(err, unix.ENOBUFS):
				// The kernel could not deliver some packets to our
				// socket; it already applied the fail flag to them.
				q.c.enobufs.Add(1)
			case errors.Is(err, unix.EBADF):
				return
			default:
				q.c.recvErrors.Add(1)
				q.logRecvError(err)
				time.Sleep(time.Millisecond)
			}
		} else {
			q.handleBatch(n)
		}
		if exp != nil {
			if now := time.Now(); !now.Before(next) {
				exp.Expire(now.UnixNano())
				next = now.Add(tick)
			}
		}
	}
}

func (q *queue) handleBatch(n int) {
	t0 := time.Now()
	q.h.begin(t0.UnixNano())
	for i := 0; i < n; i++ {
		d, trunc := q.batch.datagram(i)
		if trunc {
			q.h.l.truncated++
		}
		q.h.datagram(d)
	}
	if out := q.h.finish(); len(out) > 0 {
		if err := q.sock.write(out); err != nil {
			q.c.sendErrors.Add(1)
		}
	}
	now := time.Now()
	q.h.flush(int64(now.Sub(t0)), now.UnixNano())
}

func (q *queue) logRecvError(err error) {
	now := time.Now()
	if now.Sub(q.lastRecvLog) < 10*time.Second {
		return
	}
	q.lastRecvLog = now
	q.log.Warn("queue receive error (counted, not fatal)", "queue", q.num, "err", err)
}

// drain gives a verdict to every packet already delivered to the socket,
// so stopping does not leave them to the kernel's unbind (which drops).
// Bounded in time: in fail-closed mode the rules still queue new packets
// while we drain.
func (q *queue) drain() {
	end := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(end) {
		n, err := q.sock.recv(q.batch, false)
		if err != nil || n == 0 {
			return
		}
		q.handleBatch(n)
	}
}

func (q *queue) revise(r *reviseRequest) {
	defer func() {
		if p := recover(); p != nil {
			q.c.panics.Add(1)
			q.log.Error("decider panicked in Revise", "queue", q.num, "panic", p)
		}
		r.done <- r.changes
	}()
	q.dec.Revise(func(t verdict.Tuple, d verdict.Decision) {
		r.changes = append(r.changes, Change{Tuple: t, Decision: d})
	})
	q.c.revisions.Add(uint64(len(r.changes)))
}

// askRevise asks the worker to run Revise between packets; collect the
// answer with waitRevise.
func (q *queue) askRevise() *reviseRequest {
	r := &reviseRequest{done: make(chan []Change, 1)}
	q.reviseReq.Store(r)
	return r
}

func (q *queue) waitRevise(r *reviseRequest, timeout time.Duration) ([]Change, error) {
	select {
	case ch := <-r.done:
		return ch, nil
	case <-q.done:
		return nil, fmt.Errorf("queue %d: worker stopped", q.num)
	case <-time.After(timeout):
		return nil, fmt.Errorf("queue %d: worker did not answer within %s", q.num, timeout)
	}
}

// stop asks the worker to drain and return, then unbinds and closes.
func (q *queue) stop() {
	q.stopReq.Store(true)
	<-q.done
	if f, ok := q.dec.(Flusher); ok {
		f.Flush()
	}
	var m msgBuf
	m.appendConfigCmd(q.num, 9, nfqnlCfgCmdUnbind)
	_ = q.sock.write(m.b)
	q.sock.close()
}

func (q *queue) stats() QueueStats { return q.c.snapshot(q.num) }
