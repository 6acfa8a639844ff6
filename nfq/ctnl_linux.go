//go:build linux

package nfq

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"ips/verdict"
)

// Conntrack is a minimal ctnetlink client: it rewrites the marks of
// entries and dumps them. Its socket stays in the network namespace it
// was opened in.
type Conntrack struct {
	mu   sync.Mutex
	sock *nlSocket
	seq  uint32
	buf  []byte
}

// OpenConntrack opens a ctnetlink socket in the calling thread's network
// namespace.
func OpenConntrack() (*Conntrack, error) {
	s, err := openNetfilter(4 << 20)
	if err != nil {
		return nil, fmt.Errorf("ctnetlink: %w", err)
	}
	if err := s.setTimeout(5 * time.Second); err != nil {
		s.close()
		return nil, err
	}
	return &Conntrack{sock: s, buf: make([]byte, 1<<16)}, nil
}

// Close releases the socket.
func (c *Conntrack) Close() error { return c.sock.close() }

// MarkUpdate is one entry's new mark bits.
type MarkUpdate struct {
	Tuple verdict.Tuple
	Mark  uint32 // value under Mask
	Mask  uint32
}

// MarkResult counts what SetMarks did.
type MarkResult struct {
	Updated  int // entries found and rewritten
	ByReply  int // of which found by the reversed tuple (destination NAT)
	NotFound int // entries already gone
	Failed   int // other errors
	LastErr  error
}

// SetMarks rewrites the mark bits of each entry. The tuple is the flow as
// the decider saw it first. The kernel finds an entry by either of its
// tuples, so the tuple is tried as given, then reversed: the reverse of a
// destination-NATed flow (NATed before our hook) is its reply tuple.
// Entries that no longer exist are counted, not errors.
func (c *Conntrack) SetMarks(ups []MarkUpdate) MarkResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	var res MarkResult
	reversedTries := []bool{false, true}
	pending := make([]int, len(ups))
	for i := range pending {
		pending[i] = i
	}
	const chunk = 64
	for ai, reversed := range reversedTries {
		var missing []int
		for start := 0; start < len(pending); start += chunk {
			idx := pending[start:min(start+chunk, len(pending))]
			batch := make([]MarkUpdate, len(idx))
			for j, i := range idx {
				batch[j] = ups[i]
				if reversed {
					batch[j].Tuple = reverse(batch[j].Tuple)
				}
			}
			for j, err := range c.sendMarks(batch, false) {
				switch {
				case err == nil:
					res.Updated++
					if ai > 0 {
						res.ByReply++
					}
				case errors.Is(err, unix.ENOENT):
					missing = append(missing, idx[j])
				default:
					res.Failed++
					res.LastErr = err
				}
			}
		}
		pending = missing
		if len(pending) == 0 {
			break
		}
	}
	res.NotFound = len(pending)
	return res
}

// sendMarks sends one update per entry in one datagram and collects the
// acks, matched by sequence number.
func (c *Conntrack) sendMarks(ups []MarkUpdate, reply bool) []error {
	var m msgBuf
	base := c.seq + 1
	for i, u := range ups {
		m.appendSetMark(base+uint32(i), u.Tuple, reply, u.Mark&u.Mask, u.Mask)
	}
	c.seq += uint32(len(ups))
	errs := make([]error, len(ups))
	if err := c.sock.write(m.b); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	pending := len(ups)
	for pending > 0 {
		n, err := c.sock.readOne(c.buf)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				continue
			}
			for i := range errs {
				if errs[i] == nil {
					errs[i] = fmt.Errorf("no ack: %w", err)
				}
			}
			return errs
		}
		d := c.buf[:n]
		for {
			mm, rest, ok := nextMsg(d)
			if !ok {
				break
			}
			if mm.typ == nlmsgError {
				if i := int(mm.seq - base); i >= 0 && i < len(ups) {
					if e, ok := errnoOf(mm.body); ok && e != 0 {
						errs[i] = syscall.Errno(e)
					}
					pending--
				}
			}
			d = rest
		}
	}
	return errs
}

// Dump lists the IPv4 and IPv6 entries whose mark has the bits of mask
// equal to val (mask 0: all entries).
func (c *Conntrack) Dump(val, mask uint32) ([]Conn, error) {
	var out []Conn
	err := c.DumpEach(val, mask, func(cn Conn) { out = append(out, cn) })
	return out, err
}

// DumpEach is Dump calling fn for each entry instead of collecting them,
// so that a large table costs no more than one entry at a time.
func (c *Conntrack) DumpEach(val, mask uint32, fn func(Conn)) error {
	return c.DumpInfo(val, mask, func(ci ConnInfo) { fn(ci.conn()) })
}

func (c *Conntrack) readDump(seq uint32, fn func([]byte)) error {
	for {
		n, err := c.sock.readOne(c.buf)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				return fmt.Errorf("ctnetlink dump: overrun, retry: %w", err)
			}
			if errors.Is(err, errTimeout) {
				return errors.New("ctnetlink dump: no answer within 5s")
			}
			return fmt.Errorf("ctnetlink dump: %w", err)
		}
		d := c.buf[:n]
		for {
			m, rest, ok := nextMsg(d)
			if !ok {
				break
			}
			if m.seq == seq {
				switch m.typ {
				case nlmsgDone:
					return nil
				case nlmsgError:
					if e, ok := errnoOf(m.body); ok && e != 0 {
						return fmt.Errorf("ctnetlink dump: %w", syscall.Errno(e))
					}
					return nil
				case subsysCtnetlink<<8 | ipctnlMsgCtNew:
					fn(m.body)
				}
			}
			d = rest
		}
	}
}
