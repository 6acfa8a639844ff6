package dpi

// tcpDir tracks one direction of a TCP flow: the next expected sequence
// number and, when a dissector asked for it, a bounded buffer of the
// in-order stream (for messages split over segments, such as a TLS
// ClientHello with post-quantum key shares).
type tcpDir struct {
	next      uint32
	init      bool
	gap       bool // a segment was missed; the stream cannot be rebuilt
	buffering bool
	overflow  bool // the buffer filled up
	buf       []byte
}

// track follows sequence numbers for p in direction d and returns the new
// in-order bytes to dissect (nil for a pure retransmission). When the
// direction is buffering, the bytes are appended to its buffer.
func (e *Engine) track(s *scratch, p *Packet, dir Dir) []byte {
	d := &s.tcp[dir]
	seq := p.Seq
	if p.TCPFlags&TCPSyn != 0 {
		seq++ // the SYN takes one sequence number
		d.next, d.init = seq, true
	}
	pl := p.Payload
	if len(pl) == 0 {
		return nil
	}
	if !d.init {
		d.next, d.init = seq, true
	}
	switch diff := int32(seq - d.next); {
	case diff > 0:
		// A hole: something was lost or reordered. Dissect this segment on
		// its own; a buffered stream cannot continue past the hole.
		d.gap = true
		d.next = seq + uint32(len(pl))
		e.releaseStream(d)
		return pl
	case diff < 0:
		over := int(-diff)
		if over >= len(pl) {
			return nil // retransmission of bytes already seen
		}
		pl = pl[over:]
	}
	d.next += uint32(len(pl))
	if d.buffering {
		room := cap(d.buf) - len(d.buf)
		if len(pl) > room {
			pl = pl[:room]
			d.overflow = true
		}
		d.buf = append(d.buf, pl...)
	}
	return pl
}

// startStream begins buffering direction d with the bytes of the current
// segment. It fails when the pool is exhausted.
func (e *Engine) startStream(d *tcpDir, cur []byte) bool {
	if d.buffering {
		return true
	}
	if d.gap {
		return false
	}
	var b []byte
	if n := len(e.streamFree); n > 0 {
		b = e.streamFree[n-1][:0]
		e.streamFree = e.streamFree[:n-1]
	} else if e.streamsOut < e.cfg.MaxStreams {
		b = make([]byte, 0, e.cfg.StreamBytes)
	} else {
		e.stats.StreamsExhausted++
		return false
	}
	e.streamsOut++
	if len(cur) > cap(b) {
		cur = cur[:cap(b)]
		d.overflow = true
	}
	d.buf = append(b, cur...)
	d.buffering = true
	return true
}

func (e *Engine) releaseStream(d *tcpDir) {
	if d.buf != nil {
		e.streamFree = append(e.streamFree, d.buf[:0])
		e.streamsOut--
	}
	d.buf, d.buffering = nil, false
}
