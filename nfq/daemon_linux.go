//go:build linux

package nfq

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables"

	"golang.org/x/sys/unix"

	"ips/verdict"
)

// Config configures the inline path. Zero values take the defaults.
type Config struct {
	QueueBase uint16
	Queues    int // default runtime.NumCPU()
	Fail      verdict.FailMode
	Layout    verdict.MarkLayout // default verdict.DefaultMarkMask
	// LAN and WAN name the interfaces on each side: bridge ports, or
	// routed interfaces. Undecided traffic crossing between them is
	// queued; nothing else is.
	LAN, WAN []string

	MaxQueueLen uint32 // kernel queue length per queue, default 4096
	// RcvBuf is each queue socket's receive buffer, default 8 MiB: with
	// the kernel's per-message overhead that holds a full default queue
	// of small packets.
	RcvBuf    int
	CopyRange uint32 // bytes of each packet copied to us, default 0xffff
	Batch     int    // datagrams per receive, default 32
	NoGSO     bool   // ask the kernel to segment GSO packets before queueing
	// ArrivalStamps turns on the kernel's receive timestamps so that
	// QueueStats.Wait measures each packet's arrival-to-verdict delay.
	// The kernel then stamps every packet it receives, system-wide, not
	// only queued ones: measured, a fifth less throughput for decided
	// flows on a veth bridge. Off by default.
	ArrivalStamps bool
	// ClassID maps a shaper class to the skb priority HTB reads; default
	// DefaultClassID (1:class).
	ClassID func(class uint16) uint32
	// ShapeClasses are the shaper classes the policy uses (one rule each);
	// nil means 1..15. Change them with SetShapeClasses after a reload.
	ShapeClasses []uint16

	// NewDecider makes the decider of one queue; each is used by one
	// goroutine only.
	NewDecider func(queue uint16) verdict.Decider

	Log *slog.Logger
}

func (c *Config) defaults() error {
	if c.Queues <= 0 {
		c.Queues = runtime.NumCPU()
	}
	if int(c.QueueBase)+c.Queues > 0x10000 {
		return fmt.Errorf("queues %d-%d: past queue 65535", c.QueueBase, int(c.QueueBase)+c.Queues-1)
	}
	if c.Layout.Mask() == 0 {
		l, err := verdict.NewMarkLayout(verdict.DefaultMarkMask)
		if err != nil {
			return err
		}
		c.Layout = l
	}
	if c.MaxQueueLen == 0 {
		c.MaxQueueLen = 4096
	}
	if c.RcvBuf == 0 {
		c.RcvBuf = 8 << 20
	}
	if c.CopyRange == 0 || c.CopyRange > 0xffff {
		c.CopyRange = 0xffff
	}
	if c.Batch <= 0 {
		c.Batch = 32
	}
	if c.Batch > 1024 {
		c.Batch = 1024
	}
	if c.ClassID == nil {
		c.ClassID = DefaultClassID
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.NewDecider == nil {
		return errors.New("nfq: no decider")
	}
	if len(c.LAN) == 0 || len(c.WAN) == 0 {
		return errors.New("need at least one LAN and one WAN interface (--lan, --wan)")
	}
	return nil
}

// Daemon is the running inline path: queues, their workers, our table,
// and the conntrack client for reloads.
type Daemon struct {
	cfg    Config
	caps   Capabilities
	nft    *nftables.Conn
	tab    *table
	ct     *Conntrack
	links  *linkReader
	proc   *os.File
	stamps int // the socket that keeps receive timestamps on; -1: none
	queues []*queue
	sides  atomic.Pointer[sideTable]
	log    *slog.Logger

	stopOnce sync.Once
	stopHK   chan struct{}
	hkDone   chan struct{}
	reviseMu sync.Mutex
	tableMu  sync.Mutex // install, resync, check

	tableRepairs atomic.Uint64
	adopted      adoption
}

// Start probes the kernel, binds the queues, installs the table
// (replacing one an earlier run left behind, in the same transaction) and
// starts one worker per queue. Every socket is opened here, in the
// calling thread's network namespace.
func Start(cfg Config) (*Daemon, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: cfg.Log, stamps: -1, stopHK: make(chan struct{}), hkDone: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			d.closeAll()
		}
	}()
	var err error
	if d.nft, err = nftables.New(nftables.AsLasting()); err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	if d.links, err = openLinkReader(); err != nil {
		return nil, err
	}
	links, err := d.links.links()
	if err != nil {
		return nil, err
	}
	lan, wan, err := resolvePorts(links, cfg.LAN, cfg.WAN)
	if err != nil {
		return nil, err
	}
	d.sides.Store(buildSides(links, cfg.LAN, cfg.WAN))

	d.caps = ProbeKernel(d.nft, ProbeOptions{Ports: append(append([]Port{}, lan...), wan...),
		QueueBase: cfg.QueueBase, Queues: uint16(cfg.Queues)})
	if failed := d.caps.Failed(); len(failed) > 0 {
		var msgs []string
		for _, p := range failed {
			msgs = append(msgs, fmt.Sprintf("%s: %s (fix: %s)", p.Name, p.Detail, p.Fix))
		}
		return nil, fmt.Errorf("kernel support missing (run ips doctor):\n  %s", strings.Join(msgs, "\n  "))
	}
	d.log.Info("kernel probed", "queue_path", d.caps.Queue.String(), "fail", cfg.Fail.String(), "note", FailModeNote(cfg.Fail))

	if d.ct, err = OpenConntrack(); err != nil {
		return nil, err
	}
	d.proc, _ = os.Open("/proc/thread-self/net/netfilter/nfnetlink_queue")
	if cfg.ArrivalStamps {
		if d.stamps, err = enableArrivalStamps(); err != nil {
			d.log.Warn("no arrival timestamps: the added-latency histogram stays empty", "err", err)
		}
	}

	// Queues first, so that the rules we install find a listener.
	opt := queueOptions{copyRange: cfg.CopyRange, maxLen: cfg.MaxQueueLen, rcvBuf: cfg.RcvBuf,
		batch: cfg.Batch, fail: cfg.Fail, gso: !cfg.NoGSO}
	for _, p := range append(append([]Port{}, lan...), wan...) {
		if p.BridgePort && !d.caps.Physdev {
			opt.portFilter = true
		}
	}
	for i := 0; i < cfg.Queues; i++ {
		num := cfg.QueueBase + uint16(i)
		q, err := openQueue(num, opt, cfg.NewDecider(num), cfg.Layout, &d.sides, d.log)
		if err != nil {
			return nil, err
		}
		d.queues = append(d.queues, q)
	}

	d.tab = newTable(d.nft, rulesetSpec{layout: cfg.Layout, fail: cfg.Fail, queueBase: cfg.QueueBase,
		queues: uint16(cfg.Queues), impl: d.caps.Queue, lan: lan, wan: wan, physdev: d.caps.Physdev, classID: cfg.ClassID, classes: cfg.ShapeClasses})
	if err := d.checkTableNotLive(); err != nil {
		return nil, err
	}
	replaced, err := d.tab.install()
	if err != nil {
		return nil, err
	}
	if replaced {
		d.log.Warn("replaced the nftables table inet ips left by an earlier run (crash or fail-closed stop)")
	}
	// Flows an earlier run decided keep their ct marks, which the new
	// rules match: they stay in the kernel and are not inspected again.
	if st, err := d.adopt(); err != nil {
		d.log.Warn("reading the decisions of an earlier run from conntrack", "err", err)
	} else if st.Entries > 0 {
		d.log.Info("adopted the flows an earlier run decided: they keep their verdict in the kernel and are not inspected again; a reload cannot re-judge them (their metadata died with that run)",
			"entries", st.Entries, "by_action", st.String())
	}
	for _, q := range d.queues {
		go q.run()
	}
	go d.housekeeping()
	d.log.Info("inline path started", "queues", fmt.Sprintf("%d-%d", cfg.QueueBase, int(cfg.QueueBase)+cfg.Queues-1),
		"lan", strings.Join(cfg.LAN, ","), "wan", strings.Join(cfg.WAN, ","),
		"mark_mask", fmt.Sprintf("%#08x", cfg.Layout.Mask()))
	ok = true
	return d, nil
}

// Capabilities returns the probe results from start.
func (d *Daemon) Capabilities() Capabilities { return d.caps }

// housekeeping verifies our rules every few seconds (repairing them in
// one batch if someone flushed them) and refreshes the interface indexes.
func (d *Daemon) housekeeping() {
	defer close(d.hkDone)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-d.stopHK:
			return
		case <-t.C:
		}
		if links, err := d.links.links(); err == nil {
			d.sides.Store(buildSides(links, d.cfg.LAN, d.cfg.WAN))
		}
		d.tableMu.Lock()
		d.repair()
		d.tableMu.Unlock()
	}
}

// repair restores our table or its rules if someone changed them.
func (d *Daemon) repair() {
	{
		ok, missing, err := d.tab.check()
		switch {
		case err != nil:
			d.log.Warn("checking nftables rules", "err", err)
		case missing:
			d.log.Error("nftables table inet ips disappeared; recreating it")
			if _, err := d.tab.install(); err != nil {
				d.log.Error("recreating nftables table", "err", err)
			}
			d.tableRepairs.Add(1)
		case !ok:
			d.log.Error("nftables rules of inet ips were changed; restoring them")
			if err := d.tab.resync(); err != nil {
				d.log.Error("restoring nftables rules", "err", err)
			}
			d.tableRepairs.Add(1)
		}
	}
}

// SetShapeClasses replaces the shape rules with one per class, in one
// batch (the chains stay).
func (d *Daemon) SetShapeClasses(classes []uint16) error {
	d.tableMu.Lock()
	defer d.tableMu.Unlock()
	d.tab.spec.classes = append([]uint16{}, classes...)
	return d.tab.resync()
}

// ReviseResult says what a reload did to decided flows.
type ReviseResult struct {
	Changed int        // flows whose decision changed
	Marks   MarkResult // what the ct mark rewrite did
	// Adopted counts the flows decided by an earlier run that are still
	// alive: they keep their decision (see Adopted).
	Adopted int
}

// Revise has every worker re-judge its decided flows under the current
// policy (between packets, on the worker's goroutine) and rewrites the ct
// marks of those that changed: a final decision writes its bits, an
// undecided one clears them so the flow's next packet is queued again.
func (d *Daemon) Revise() (ReviseResult, error) {
	d.reviseMu.Lock()
	defer d.reviseMu.Unlock()
	var res ReviseResult
	var ups []MarkUpdate
	var errs []error
	mask := d.cfg.Layout.Mask()
	reqs := make([]*reviseRequest, len(d.queues))
	for i, q := range d.queues {
		reqs[i] = q.askRevise()
	}
	for i, q := range d.queues {
		changes, err := q.waitRevise(reqs[i], 10*time.Second)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range changes {
			ups = append(ups, MarkUpdate{Tuple: c.Tuple, Mark: d.cfg.Layout.Value(c.Decision), Mask: mask})
			if len(ups) <= 20 {
				d.log.Debug("reload changed a decided flow", "queue", q.num, "flow", c.Tuple.String(),
					"final", c.Decision.Final, "now", c.Decision.Explain())
			}
		}
	}
	res.Changed = len(ups)
	if len(ups) > 0 {
		res.Marks = d.ct.SetMarks(ups)
	}
	n, err := d.refreshAdopted()
	res.Adopted = n
	if err != nil {
		errs = append(errs, fmt.Errorf("counting adopted flows: %w", err))
	}
	return res, errors.Join(errs...)
}

// Stats returns every queue's counters with the kernel's view of it.
func (d *Daemon) Stats() []QueueStats {
	var proc []ProcQueue
	if d.proc != nil {
		buf := make([]byte, 64<<10)
		if n, err := d.proc.ReadAt(buf, 0); n > 0 || err == nil {
			proc = parseProcQueues(buf[:n], nil)
		}
	}
	out := make([]QueueStats, 0, len(d.queues))
	for _, q := range d.queues {
		s := q.stats()
		for _, p := range proc {
			if p.Queue == q.num {
				s.Kernel = p
			}
		}
		out = append(out, s)
	}
	return out
}

// TableRepairs counts how often the rules had to be restored.
func (d *Daemon) TableRepairs() uint64 { return d.tableRepairs.Load() }

// RuleCounters returns the packet counters of our forward chain's rules by
// tag ("ips:queue", "ips:pass", "ips:drop", ...).
func (d *Daemon) RuleCounters() (map[string]RuleCounter, error) { return d.tab.counters() }

// Conntrack is the daemon's ctnetlink client.
func (d *Daemon) Conntrack() *Conntrack { return d.ct }

// Stop ends the inline path as the fail mode says. Fail-open: the table
// is removed first (nothing new is queued), then the workers give a
// verdict to what they hold and the queues are released. Fail-closed: the
// workers finish the same way but the table stays, so with no listener
// and no bypass the kernel drops undecided traffic until ips runs again
// (ips doctor --cleanup removes it); decided flows keep their verdicts.
func (d *Daemon) Stop() error {
	var err error
	d.stopOnce.Do(func() {
		close(d.stopHK)
		<-d.hkDone
		if d.cfg.Fail == verdict.FailOpen {
			if _, e := removeTable(d.nft); e != nil {
				err = e
			}
		}
		var wg sync.WaitGroup
		for _, q := range d.queues {
			wg.Add(1)
			go func() { defer wg.Done(); q.stop() }()
		}
		wg.Wait()
		d.queues = d.queues[:0:0]
		if d.cfg.Fail == verdict.FailClosed {
			d.log.Warn("fail-closed stop: nftables table inet ips kept; undecided traffic is dropped until ips runs again (remove it with: ips doctor --cleanup)")
		}
		d.closeAll()
	})
	return err
}

func (d *Daemon) closeAll() {
	if d.stamps >= 0 {
		unix.Close(d.stamps)
		d.stamps = -1
	}
	for _, q := range d.queues {
		q.sock.close()
	}
	if d.ct != nil {
		d.ct.Close()
	}
	if d.links != nil {
		d.links.close()
	}
	if d.proc != nil {
		d.proc.Close()
	}
	if d.nft != nil {
		d.nft.CloseLasting()
	}
}

// RemoveTable deletes our table in the calling thread's network
// namespace: the cleanup after a fail-closed stop or a crash.
func RemoveTable() (bool, error) {
	c, err := nftables.New()
	if err != nil {
		return false, err
	}
	return removeTable(c)
}

// Diagnosis is what ips doctor reports: the probes, and the state ips
// leaves in the kernel.
type Diagnosis struct {
	Capabilities
	Ports        []Port
	PortsErr     error
	TablePresent bool
	Queues       []ProcQueue // bound queues, from /proc
	Decided      int         // conntrack entries with the decided bit
}

// Diagnose probes the kernel for the given configuration in the calling
// thread's network namespace. bind also tries to bind each queue (it
// fails if a running ips holds them, which the queue list shows).
func Diagnose(lan, wan []string, layout verdict.MarkLayout, queueBase uint16, queues int, bind bool) (Diagnosis, error) {
	var dg Diagnosis
	conn, err := nftables.New()
	if err != nil {
		return dg, fmt.Errorf("nftables: %w", err)
	}
	if lr, err := openLinkReader(); err == nil {
		if links, err := lr.links(); err == nil {
			l, w, err := resolvePorts(links, lan, wan)
			dg.PortsErr = err
			dg.Ports = append(l, w...)
		} else {
			dg.PortsErr = err
		}
		lr.close()
	} else {
		dg.PortsErr = err
	}
	if queues <= 0 {
		queues = runtime.NumCPU()
	}
	dg.Capabilities = ProbeKernel(conn, ProbeOptions{Ports: dg.Ports, QueueBase: queueBase, Queues: uint16(queues), BindQueues: bind})
	dg.TablePresent, _ = tableExists(conn)
	if b, err := os.ReadFile("/proc/thread-self/net/netfilter/nfnetlink_queue"); err == nil {
		dg.Queues = parseProcQueues(b, nil)
	}
	if ct, err := OpenConntrack(); err == nil {
		if l := layout; l.Mask() != 0 {
			if cs, err := ct.Dump(l.DecidedBit(), l.DecidedBit()); err == nil {
				dg.Decided = len(cs)
			}
		}
		ct.Close()
	}
	return dg, nil
}

// InstallRules installs our table for cfg without binding any queue and
// returns a function that removes it. It exists for yardsticks: a plain
// consumer such as nfqaccept-c bound to the same queue then serves exactly
// the rules the daemon would, so the two can be compared side by side.
func InstallRules(cfg Config) (remove func() error, err error) {
	if cfg.NewDecider == nil {
		cfg.NewDecider = func(uint16) verdict.Decider { return nil }
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	conn, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, err
	}
	lr, err := openLinkReader()
	if err != nil {
		return nil, err
	}
	links, err := lr.links()
	lr.close()
	if err != nil {
		return nil, err
	}
	lan, wan, err := resolvePorts(links, cfg.LAN, cfg.WAN)
	if err != nil {
		return nil, err
	}
	caps := ProbeKernel(conn, ProbeOptions{Ports: append(append([]Port{}, lan...), wan...), QueueBase: cfg.QueueBase, Queues: uint16(cfg.Queues)})
	if caps.Queue == 0 {
		return nil, errors.New("no queue path in this kernel (run ips doctor)")
	}
	tab := newTable(conn, rulesetSpec{layout: cfg.Layout, fail: cfg.Fail, queueBase: cfg.QueueBase,
		queues: uint16(cfg.Queues), impl: caps.Queue, lan: lan, wan: wan, physdev: caps.Physdev, classID: cfg.ClassID, classes: cfg.ShapeClasses})
	if _, err := tab.install(); err != nil {
		return nil, err
	}
	return func() error {
		defer conn.CloseLasting()
		_, err := removeTable(conn)
		return err
	}, nil
}

// enableArrivalStamps opens a socket that asks for receive timestamps and
// never receives anything. While one such socket exists the kernel stamps
// every packet when it arrives (one clock read, system-wide) and hands the
// stamp to the queue (NFQA_TIMESTAMP), which lets the workers measure the
// whole latency they add, queue wait included. The caller closes the fd.
func enableArrivalStamps() (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return -1, fmt.Errorf("timestamp socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("SO_TIMESTAMPNS: %w", err)
	}
	return fd, nil
}
