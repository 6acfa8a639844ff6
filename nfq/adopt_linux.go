//go:build linux

package nfq

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"ips/verdict"
)

// Adoption is what a start does with the decisions an earlier run left in
// conntrack (after kill -9, a crash, a fail-closed stop or an upgrade).
// The entries keep their ct marks and the new table's rules, which match
// the same marks, keep handling those flows in the kernel: a passed
// connection keeps passing without being queued again and a dropped one
// stays dropped. The daemon only remembers which entries they are (their
// CTA_ID, 4 bytes each, sorted), because the flow metadata the earlier run
// judged them on (hostname, application, JA4) died with it: a reload
// cannot re-judge them, and clearing their mark to have them inspected
// again would show the DPI the middle of a stream (a TLS flow without its
// ClientHello is given up and guessed), so they keep their decision until
// they end and each reload reports how many are still alive.
type adoption struct {
	mu   sync.Mutex
	ids  []uint32 // sorted CTA_IDs of adopted entries still alive at the last look
	live atomic.Int64
}

// AdoptStats says what a start found in conntrack: the entries an earlier
// run decided, by action.
type AdoptStats struct {
	Entries  int
	ByAction map[verdict.Action]int
}

func (s AdoptStats) String() string {
	acts := make([]verdict.Action, 0, len(s.ByAction))
	for a := range s.ByAction {
		acts = append(acts, a)
	}
	sort.Slice(acts, func(i, j int) bool { return acts[i] < acts[j] })
	var parts []string
	for _, a := range acts {
		parts = append(parts, fmt.Sprintf("%s %d", a, s.ByAction[a]))
	}
	return strings.Join(parts, ", ")
}

// adopt reads the decided entries once, at start.
func (d *Daemon) adopt() (AdoptStats, error) {
	st := AdoptStats{ByAction: map[verdict.Action]int{}}
	bit := d.cfg.Layout.DecidedBit()
	var ids []uint32
	err := d.ct.DumpEach(bit, bit, func(c Conn) {
		st.Entries++
		if dec, ok := d.cfg.Layout.Decode(c.Mark); ok {
			st.ByAction[dec.Action]++
		}
		ids = append(ids, c.ID)
	})
	slices.Sort(ids)
	ids = slices.Compact(ids)
	d.adopted.mu.Lock()
	d.adopted.ids = ids
	d.adopted.live.Store(int64(len(ids)))
	d.adopted.mu.Unlock()
	return st, err
}

// refreshAdopted counts the adopted entries still in conntrack and forgets
// the others. Once none is left it costs nothing: no dump is made.
func (d *Daemon) refreshAdopted() (int, error) {
	d.adopted.mu.Lock()
	defer d.adopted.mu.Unlock()
	if len(d.adopted.ids) == 0 {
		return 0, nil
	}
	bit := d.cfg.Layout.DecidedBit()
	alive := make([]bool, len(d.adopted.ids))
	err := d.ct.DumpEach(bit, bit, func(c Conn) {
		if i, ok := slices.BinarySearch(d.adopted.ids, c.ID); ok {
			alive[i] = true
		}
	})
	if err != nil {
		return len(d.adopted.ids), err
	}
	kept := d.adopted.ids[:0]
	for i, id := range d.adopted.ids {
		if alive[i] {
			kept = append(kept, id)
		}
	}
	d.adopted.ids = append([]uint32(nil), kept...) // frees the larger array
	d.adopted.live.Store(int64(len(kept)))
	return len(kept), nil
}

// Adopted is the number of conntrack entries decided by an earlier run
// that were still alive at the last look (start or the last reload).
func (d *Daemon) Adopted() int { return int(d.adopted.live.Load()) }

// checkTableNotLive refuses to replace a table that another process still
// serves: one whose queue rule sends to a queue bound by a listener that
// is not one of ours (another ips in this network namespace, started with
// another --queue-base and --control). A table nobody serves is stale and
// replaced.
func (d *Daemon) checkTableNotLive() error {
	exists, err := tableExists(d.nft)
	if err != nil || !exists {
		return err
	}
	base, total, ok := d.tab.existingQueues()
	if !ok || d.proc == nil {
		return nil
	}
	buf := make([]byte, 64<<10)
	n, _ := d.proc.ReadAt(buf, 0)
	ours := func(q uint16) bool {
		return q >= d.cfg.QueueBase && int(q) < int(d.cfg.QueueBase)+d.cfg.Queues
	}
	for _, p := range parseProcQueues(buf[:n], nil) {
		if p.Queue >= base && int(p.Queue) < int(base)+int(total) && !ours(p.Queue) && p.PortID != 0 {
			return fmt.Errorf("nftables table inet %s is in use: its queue rule sends to queues %d-%d and queue %d is bound by netlink port %d "+
				"(another ips running in this network namespace?); stop it first, or remove the table with ips doctor --cleanup if nothing should serve it",
				TableName, base, int(base)+int(total)-1, p.Queue, p.PortID)
		}
	}
	return nil
}
