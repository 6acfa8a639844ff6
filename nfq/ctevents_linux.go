//go:build linux

package nfq

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"ips/verdict"
)

// Accounting is conntrack's byte and packet counting
// (net.netfilter.nf_conntrack_acct), switched on for the daemon's life.
// The sysctl belongs to the network namespace it is written in, and the
// kernel adds the counters to an entry when the entry is created: flows
// that existed before ips switched it on have none.
type Accounting struct {
	path   string
	old    string
	change bool
}

const acctSysctl = "/proc/sys/net/netfilter/nf_conntrack_acct"

// EnableAccounting sets nf_conntrack_acct to 1 in the calling thread's
// network namespace and remembers the old value for Restore.
func EnableAccounting() (*Accounting, error) {
	return enableSysctl(acctSysctl)
}

func enableSysctl(path string) (*Accounting, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conntrack accounting: %w (is nf_conntrack loaded?)", err)
	}
	a := &Accounting{path: path, old: strings.TrimSpace(string(b))}
	if a.old == "1" {
		return a, nil
	}
	// Equivalent: sysctl -w net.netfilter.nf_conntrack_acct=1
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return nil, fmt.Errorf("conntrack accounting: %w", err)
	}
	a.change = true
	return a, nil
}

// WasOn reports whether accounting was already on before ips.
func (a *Accounting) WasOn() bool { return !a.change }

// Restore puts the old value back (nothing when ips did not change it).
func (a *Accounting) Restore() error {
	if a == nil || !a.change {
		return nil
	}
	a.change = false
	if err := os.WriteFile(a.path, []byte(a.old+"\n"), 0o644); err != nil {
		return fmt.Errorf("restoring %s=%s: %w", a.path, a.old, err)
	}
	return nil
}

// Get reads the entry of the flow t (tried by its original tuple, then by
// its reply tuple, as SetMarks does). A missing entry is unix.ENOENT.
func (c *Conntrack) Get(t verdict.Tuple) (ConnInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var last error
	for _, reply := range []bool{false, true} {
		var m msgBuf
		c.seq++
		seq := c.seq
		m.appendGet(seq, t, reply)
		if err := c.sock.write(m.b); err != nil {
			return ConnInfo{}, fmt.Errorf("ctnetlink get: %w", err)
		}
		ci, err := c.readGet(seq)
		if err == nil {
			return ci, nil
		}
		last = err
		if !errors.Is(err, unix.ENOENT) {
			return ConnInfo{}, err
		}
	}
	return ConnInfo{}, last
}

func (c *Conntrack) readGet(seq uint32) (ConnInfo, error) {
	for {
		n, err := c.sock.readOne(c.buf)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				continue
			}
			return ConnInfo{}, fmt.Errorf("ctnetlink get: %w", err)
		}
		d := c.buf[:n]
		for {
			m, rest, ok := nextMsg(d)
			if !ok {
				break
			}
			d = rest
			if m.seq != seq {
				continue // a late answer to an earlier request
			}
			switch m.typ {
			case nlmsgError:
				if e, ok := errnoOf(m.body); ok && e != 0 {
					return ConnInfo{}, syscall.Errno(e)
				}
				return ConnInfo{}, unix.ENOENT
			case subsysCtnetlink<<8 | ipctnlMsgCtNew:
				if ci, ok := parseConnInfo(m.body); ok {
					return ci, nil
				}
				return ConnInfo{}, errors.New("ctnetlink get: unreadable answer")
			}
		}
	}
}

// DumpInfo calls fn for each IPv4 and IPv6 entry whose mark has the bits
// of mask equal to val, with its counters.
func (c *Conntrack) DumpInfo(val, mask uint32, fn func(ConnInfo)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		var m msgBuf
		c.seq++
		m.appendDump(c.seq, fam, val, mask)
		if err := c.sock.write(m.b); err != nil {
			return fmt.Errorf("ctnetlink dump: %w", err)
		}
		if err := c.readDump(c.seq, func(body []byte) {
			if ci, ok := parseConnInfo(body); ok {
				fn(ci)
			}
		}); err != nil {
			return err
		}
	}
	return nil
}

// CtEvent is a conntrack event about an entry decided by ips.
type CtEvent struct {
	// Destroy: the kernel removed the entry (timeout, close timers
	// expired, or deleted); the counters are final. Otherwise it is an
	// update in which the TCP connection reached TIME_WAIT (FIN both
	// ways) or CLOSE (RST); update events carry no counters.
	Destroy bool
	Time    time.Time
	ConnInfo
}

// CtEventStats count what the event reader saw.
type CtEventStats struct {
	Messages uint64 // event messages read (all entries, ours or not)
	Ours     uint64 // events passed on: entries with the decided bit
	Overruns uint64 // ENOBUFS: the kernel dropped events for us
}

// CtEvents follows ctnetlink's update and destroy multicast groups
// (NFNLGRP_CONNTRACK_UPDATE, NFNLGRP_CONNTRACK_DESTROY) and passes on the
// events of entries whose ct mark carries the decided bit of the layout.
// The kernel sends the events of every entry; filtering is here. Events
// need net.netfilter.nf_conntrack_events on (the default).
type CtEvents struct {
	sock    *nlSocket
	bit     uint32
	buf     []byte
	msgs    atomic.Uint64
	ours    atomic.Uint64
	overr   atomic.Uint64
	closed  atomic.Bool
	started atomic.Bool
	done    chan struct{}
}

// OpenCtEvents subscribes in the calling thread's network namespace.
func OpenCtEvents(layout verdict.MarkLayout) (*CtEvents, error) {
	s, err := openNetfilter(8 << 20)
	if err != nil {
		return nil, fmt.Errorf("ctnetlink events: %w", err)
	}
	for _, g := range []int{nfnlgrpConntrackUpdate, nfnlgrpConntrackDestroy} {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, g); err != nil {
			s.close()
			return nil, fmt.Errorf("ctnetlink events: joining group %d: %w", g, err)
		}
	}
	if err := s.setTimeout(500 * time.Millisecond); err != nil {
		s.close()
		return nil, err
	}
	return &CtEvents{sock: s, bit: layout.DecidedBit(), buf: make([]byte, 1<<16), done: make(chan struct{})}, nil
}

// Stats returns the counters.
func (e *CtEvents) Stats() CtEventStats {
	return CtEventStats{Messages: e.msgs.Load(), Ours: e.ours.Load(), Overruns: e.overr.Load()}
}

// Start reads events on a goroutine of its own until Close, calling fn
// for each of ours and lost after each overrun (events were dropped: the
// caller reconciles with a dump). Call it once.
func (e *CtEvents) Start(fn func(CtEvent), lost func()) {
	if e.started.Swap(true) {
		return
	}
	go func() {
		defer close(e.done)
		e.run(fn, lost)
	}()
}

func (e *CtEvents) run(fn func(CtEvent), lost func()) {
	for !e.closed.Load() {
		n, err := e.sock.readOne(e.buf)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				e.overr.Add(1)
				if lost != nil {
					lost()
				}
			}
			continue
		}
		now := time.Now()
		d := e.buf[:n]
		for {
			m, rest, ok := nextMsg(d)
			if !ok {
				break
			}
			d = rest
			destroy := m.typ == subsysCtnetlink<<8|ipctnlMsgCtDelete
			if !destroy && m.typ != subsysCtnetlink<<8|ipctnlMsgCtNew {
				continue
			}
			e.msgs.Add(1)
			ci, ok := parseConnInfo(m.body)
			if !ok || ci.Mark&e.bit == 0 {
				continue
			}
			if !destroy && !(ci.HasTCPState && ci.TCPState.Closed()) {
				continue
			}
			e.ours.Add(1)
			fn(CtEvent{Destroy: destroy, Time: now, ConnInfo: ci})
		}
	}
}

// Close stops the reader (within the socket timeout, 0.5 s) and then
// releases the socket, so its descriptor is never read after reuse.
func (e *CtEvents) Close() error {
	e.closed.Store(true)
	if e.started.Load() {
		<-e.done
	}
	return e.sock.close()
}
