package nfq

import (
	"bytes"
	"strconv"
)

// ProcQueue is one line of /proc/net/netfilter/nfnetlink_queue: the
// kernel's own view of a queue, which counts what never reached us.
type ProcQueue struct {
	Valid     bool // the line was found
	Queue     uint16
	PortID    uint32 // netlink port of the bound listener
	Waiting   uint32 // packets queued now, waiting for a verdict
	CopyMode  uint8
	CopyRange uint32
	// Dropped counts packets dropped because the queue was full
	// (queue_dropped); with fail-open they are accepted instead and not
	// counted here.
	Dropped uint64
	// UserDropped counts packets the kernel could not deliver to the
	// socket (receive buffer full: the ENOBUFS case), queue_user_dropped.
	UserDropped uint64
	IDSequence  uint32 // last packet id handed out
}

// parseProcQueues reads the file's lines: "queue portid waiting copy_mode
// copy_range queue_dropped user_dropped id_sequence 1", numbers separated
// by spaces (net/netfilter/nfnetlink_queue.c, seq_show).
func parseProcQueues(b []byte, out []ProcQueue) []ProcQueue {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		var f [8]uint64
		n := 0
		for _, w := range bytes.Fields(line) {
			if n == len(f) {
				break
			}
			v, err := strconv.ParseUint(string(w), 10, 64)
			if err != nil {
				n = -1
				break
			}
			f[n] = v
			n++
		}
		if n < len(f) || f[0] > 0xffff {
			continue
		}
		out = append(out, ProcQueue{
			Valid: true, Queue: uint16(f[0]), PortID: uint32(f[1]), Waiting: uint32(f[2]),
			CopyMode: uint8(f[3]), CopyRange: uint32(f[4]), Dropped: f[5], UserDropped: f[6],
			IDSequence: uint32(f[7]),
		})
	}
	return out
}
