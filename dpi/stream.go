package dpi

// TCP stream normalisation: the dissectors see, in order, the bytes the
// receiving host will accept, and nothing it will drop (Ptacek and
// Newsham's insertion and evasion attacks; Linux is the model receiver,
// since the bridges this runs on front Linux and Linux-like stacks).
//
// Per direction the engine keeps what the receiver keeps: its rcv_nxt
// (from the SYN's ISN, or at a mid-stream pickup from what the receiver
// acknowledged), the right edge of the window it advertised (window scale
// from the SYN options), the sender's highest sequence and
// acknowledgement numbers, and its last timestamp. A segment is not
// inspected, and does not move any of that state, when Linux would drop it:
//
//   - its TCP checksum is wrong (unless the kernel says the checksum was
//     verified or is not computed yet: see ChecksumState);
//   - it carries an MD5 signature or TCP-AO option the connection did not
//     negotiate, or fails PAWS (a timestamp older than the last one);
//   - it has no ACK flag (after the SYN, Linux drops such segments), or
//     acknowledges data never sent, or data older than a window;
//   - it starts beyond the advertised window, or ends before rcv_nxt (a
//     retransmission);
//   - it is a RST whose sequence number is not exactly rcv_nxt (RFC 5961:
//     an in-window RST only draws a challenge ACK), or a SYN on a
//     connection that already carries data.
//
// Out-of-order segments are held in a pooled buffer (at most StreamBytes
// ahead of rcv_nxt and holdSegs segments per direction) and delivered when
// the hole fills. Overlaps follow Linux: bytes already received in order
// never change, and among held segments the one that starts first wins
// (equal starts: the longer, then the first to arrive). Bytes that differ
// from those already held flag RiskTCPIssues.
//
// Tiny first segments are coalesced: until headMin bytes of a direction
// have arrived (or the peer speaks, or the sender sends FIN) they are kept,
// so a ClientHello split after its first byte reaches the dissectors whole.
//
// What cannot be inspected (bytes the receiver accepted but the engine
// could not keep, a hole still open when the packet budget runs out, a
// request that overflowed the reassembly buffer before naming anything)
// marks the flow Uninspectable with RiskObfuscatedTraffic; the policy's
// on_uninspectable decides what happens to it.

// Stream normalisation limits.
const (
	// holdSegs bounds the out-of-order segments held per direction.
	holdSegs = 32
	// headMin is how many bytes of a direction are gathered before its
	// first dissection (unless the peer answers or the sender closes):
	// a TLS record header and a handshake header, which is what the
	// dissectors need to recognise a first message. Kept small, since a
	// short complete first message then waits for the next segment.
	headMin = 9
	// freeCap bounds, per flow, the packets that do not count against
	// the packet budget because they only advanced a reassembly (a
	// ClientHello of 8 KB in 1-byte segments, and the ACKs they draw).
	freeCap = 1 << 15
	// maxScale is RFC 7323's largest window shift.
	maxScale = 14
)

// tcpDir is one direction of a TCP connection: what its sender sent and
// what its receiver will accept.
type tcpDir struct {
	// The sender.
	isn, isnAlt uint32 // ISN of its SYN; of the SYN before (a retransmission with another ISN)
	sndMax      uint32 // highest sequence number sent, plus one
	ackMax      uint32 // highest acknowledgement sent
	maxWin      uint32 // largest window advertised (scaled)
	tsRecent    uint32 // last timestamp value accepted
	wscale      uint8  // window scale option of its SYN
	ttl         uint8  // TTL (hop limit) of its SYN
	syn         bool   // its SYN was seen: ISN known, and everything it sent passed here
	synAlt      bool
	synData     bool // its SYN carried data (TCP Fast Open?)
	hasWS       bool
	hasTS       bool
	ackKnown    bool
	tsKnown     bool
	csumGood    bool // a packet with a good checksum was seen (captures: see csumOK)

	// The receiver.
	init      bool   // next is known
	next      uint32 // the receiver's rcv_nxt
	edgeKnown bool
	edge      uint32 // right edge of the window the receiver advertised
	fin       bool   // the sender's FIN was accepted
	urg       bool   // urgSeq is an urgent byte not yet read
	urgSeq    uint32 // the urgent byte, which Linux takes out of the stream
	delivered bool   // the head was handed to the dissectors
	lost      bool   // the receiver accepted bytes the engine could not keep

	// The dissectors' view.
	buffering bool
	overflow  bool // the buffer filled up
	auto      bool // the buffer is the engine's (head coalescing), not a dissector's
	buf       []byte
	r         *reasm
}

// reasm is the pooled part of a direction's reassembly: the head being
// gathered and the out-of-order segments held.
type reasm struct {
	head  [headMin]byte
	nhead int
	hold  []byte // hold[i] is the byte at sequence number next+i
	segs  [holdSegs]holdSeg
	n     int
}

// holdSeg is one held segment, in sequence numbers [s, e).
type holdSeg struct{ s, e uint32 }

// seqLT reports a < b in sequence space (RFC 9293 §3.4).
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }

// seqMax is the later of a and b.
func seqMax(a, b uint32) uint32 {
	if seqLT(a, b) {
		return b
	}
	return a
}

// shift is the window scale applied to windows sent in direction dir.
// With both SYNs seen it is what they negotiated (RFC 7323 §2.2: both must
// carry the option); a connection picked up mid-stream may use any scale,
// so the largest is assumed and the window check is lenient.
func (s *scratch) shift(dir Dir) uint8 {
	a, b := &s.tcp[dir], &s.tcp[1-dir]
	if a.syn && b.syn {
		if a.hasWS && b.hasWS {
			return min(a.wscale, maxScale)
		}
		return 0
	}
	return maxScale
}

// csumOK says whether the receiver will take p for its checksum. Packets
// the kernel vouched for are good; those it says nobody verified must
// verify. Captures carry no such word: there a checksum field holding
// only the pseudo-header sum is a capture taken on a sender that offloads
// checksums (the NIC filled in the right one), and a direction that never
// showed a good checksum is an anonymised or rewritten capture; other bad
// checksums are believed.
func (e *Engine) csumOK(d *tcpDir, p *Packet) bool {
	if p.Checksum == ChecksumTrusted {
		d.csumGood = true
		return true
	}
	if tcpChecksumOK(p) {
		d.csumGood = true
		return true
	}
	if p.Checksum == ChecksumUnverified {
		return false
	}
	return !d.csumGood || tcpChecksumPartial(p)
}

// tcpSegment runs one TCP packet through the normaliser and delivers the
// in-order bytes it makes available. It reports whether the packet only
// advanced a reassembly (new bytes held, gathered into the head, or added
// to a message a dissector is buffering), which the budget does not count.
func (e *Engine) tcpSegment(f *Flow, p *Packet, dir Dir) bool {
	s := f.s
	d, o := &s.tcp[dir], &s.tcp[1-dir]
	if !e.csumOK(d, p) {
		e.stats.TCPBadChecksum++
		return false
	}
	fl := p.TCPFlags
	if fl&TCPSyn != 0 {
		e.tcpSyn(f, p, dir)
		return false
	}
	if p.TCPOpts&TCPOptMD5 != 0 {
		// Linux drops a signed segment on a connection without a key
		// (and an unsigned one on a connection with a key: we cannot
		// tell those apart, so signed connections are not inspected).
		e.stats.TCPRejected++
		return false
	}
	if d.hasTS && o.hasTS && d.tsKnown && p.TCPOpts&TCPOptTS != 0 &&
		int32(d.tsRecent-p.TSVal) > 1 && fl&TCPRst == 0 {
		e.stats.TCPRejected++ // PAWS (RFC 7323 §5)
		return false
	}
	if fl&TCPRst != 0 {
		e.tcpRst(f, p, dir)
		return false
	}
	if fl&TCPAck == 0 {
		e.stats.TCPRejected++ // no ACK after the SYN: Linux drops it
		return false
	}
	if o.syn && seqLT(o.sndMax, p.Ack) {
		e.stats.TCPRejected++ // acknowledges data never sent
		return false
	}
	if d.ackKnown && seqLT(p.Ack, d.ackMax-d.maxWin) {
		e.stats.TCPRejected++ // acknowledgement older than a window
		return false
	}
	pl := p.Payload
	seq := p.Seq
	if !d.init {
		// Picked up mid-stream: the receiver is at what it acknowledged,
		// unless this segment starts after that (bytes in flight).
		d.init, d.next = true, seq
		if o.ackKnown && !seqLT(o.ackMax, seq) {
			d.next = o.ackMax
		}
	}
	if d.edgeKnown && seq != d.next && !seqLT(seq, d.edge+1<<s.shift(1-dir)) {
		e.stats.TCPOutOfWindow++
		return false
	}
	// The packet is acceptable: learn from it.
	e.learnSender(s, p, dir)
	end := seq + uint32(len(pl))
	if fl&TCPFin != 0 {
		end++
	}
	if d.syn && seqLT(d.sndMax, end) {
		d.sndMax = end
	}
	if len(pl) == 0 {
		if fl&TCPFin != 0 && seq == d.next && !d.fin {
			d.fin = true
			d.next++
			f.flags |= flowFinClient << dir
			e.flushHead(f, p, dir)
		}
		// A pure ACK while a message is being reassembled is part of
		// that reassembly (the receiver acknowledging the pieces).
		return s.pending()
	}
	if d.fin || s.closed {
		return false // data after FIN or RST: no socket reads it
	}
	if dir == ToServer && d.syn && p.TTL < d.ttl {
		// Fewer hops left than the client's SYN had on the same path:
		// made to expire before the server (a TTL-limited decoy). If it
		// does reach it, the server's ACK will tell (see learnSender).
		// Only the client's side: a server's SYN-ACK may come from
		// another box (a SYN proxy, a load balancer) than its data.
		e.stats.TCPRejected++
		return false
	}
	rel := int32(seq - d.next)
	if rel+int32(len(pl)) <= 0 {
		e.stats.TCPRetransmitted++
		return false
	}
	if rel > 0 {
		if fl&TCPUrg != 0 && p.Urgent > 0 {
			e.urgent(d, seq+uint32(p.Urgent)-1)
		}
		return e.holdSegment(f, d, uint32(rel), pl)
	}
	pl = pl[-rel:]
	if fl&TCPUrg != 0 && p.Urgent > 0 {
		e.urgent(d, seq+uint32(p.Urgent)-1)
	}
	if r := d.r; r != nil && r.n > 0 {
		r.compare(f, d.next, 0, pl)
	}
	at := d.next
	d.next += uint32(len(pl))
	progress := e.deliverAt(f, p, dir, at, pl)
	if f.s == nil {
		return progress
	}
	if d.r != nil && d.r.n > 0 {
		progress = e.pullHeld(f, p, dir, uint32(len(pl))) || progress
		if f.s == nil {
			return progress
		}
	}
	if fl&TCPFin != 0 && !d.fin && (d.r == nil || d.r.n == 0) {
		d.fin = true
		d.next++
		f.flags |= flowFinClient << dir
		e.flushHead(f, p, dir)
	}
	return progress
}

// learnSender records what an acceptable packet from dir tells: the
// sender's acknowledgement and window (the right edge of the other
// direction's receive window) and its timestamp.
func (e *Engine) learnSender(s *scratch, p *Packet, dir Dir) {
	d, o := &s.tcp[dir], &s.tcp[1-dir]
	if p.TCPOpts&TCPOptTS != 0 && (!d.tsKnown || seqLT(d.tsRecent, p.TSVal)) {
		d.tsRecent, d.tsKnown = p.TSVal, true
	}
	win := uint32(p.Window)
	if p.TCPFlags&TCPSyn == 0 {
		win <<= s.shift(dir)
	}
	d.maxWin = max(d.maxWin, win)
	if p.TCPFlags&TCPAck == 0 {
		return
	}
	if !d.ackKnown || seqLT(d.ackMax, p.Ack) {
		d.ackMax, d.ackKnown = p.Ack, true
	}
	if o.syn && o.init && !o.lost && seqLT(o.next+1, p.Ack) && p.TCPFlags&TCPSyn == 0 {
		// The receiver acknowledges bytes the engine never took (one
		// sequence number of slack for a FIN read out of order): it read
		// something the dissectors did not see.
		e.loseStream(o)
	}
	edge := p.Ack + win
	if !o.edgeKnown || seqLT(o.edge, edge) {
		o.edge, o.edgeKnown = edge, true
	}
}

// tcpSyn handles a SYN or SYN-ACK from dir.
func (e *Engine) tcpSyn(f *Flow, p *Packet, dir Dir) {
	s := f.s
	d, o := &s.tcp[dir], &s.tcp[1-dir]
	if d.delivered || d.r != nil && d.r.nhead > 0 || d.init && !d.syn ||
		d.syn && p.TCPFlags&TCPAck != 0 && p.Seq != d.isn ||
		o.syn && d.ackKnown && p.TCPFlags&TCPAck == 0 {
		// A SYN on an established connection (it carries data, or the
		// sender acknowledged the peer's SYN), or a second SYN-ACK with
		// another ISN: Linux answers with a challenge ACK (RFC 5961 §4)
		// and keeps the connection as it is.
		e.stats.TCPRejected++
		return
	}
	if d.syn && p.Seq != d.isn {
		// A SYN retransmitted with another ISN: the SYN-ACK will tell
		// which one the server took.
		d.isnAlt, d.synAlt = d.isn, true
	}
	d.isn, d.syn = p.Seq, true
	d.init, d.next = true, p.Seq+1
	d.sndMax = p.Seq + 1 + uint32(len(p.Payload))
	d.synData = len(p.Payload) > 0
	d.hasWS, d.wscale = p.TCPOpts&TCPOptWScale != 0, p.WScale
	d.hasTS = p.TCPOpts&TCPOptTS != 0
	d.ttl = p.TTL
	if p.TCPFlags&TCPAck != 0 && o.syn {
		switch {
		case p.Ack == o.isn+1:
		case o.synAlt && p.Ack == o.isnAlt+1:
			o.isn, o.next = o.isnAlt, o.isnAlt+1
		case o.synData && seqLT(o.isn+1, p.Ack) && !seqLT(o.sndMax, p.Ack):
			// TCP Fast Open: the server took the SYN's data, which was
			// not inspected (a plain SYN's data is dropped by Linux).
			o.next = p.Ack
			o.lost = true
			e.markUninspectable(f)
		}
	}
	e.learnSender(s, p, dir)
}

// tcpRst handles a RST from dir: Linux resets the connection only when
// the RST's sequence number is exactly rcv_nxt (RFC 5961 §3.2), or
// rcv_nxt-1 after the peer's FIN.
func (e *Engine) tcpRst(f *Flow, p *Packet, dir Dir) {
	d := &f.s.tcp[dir]
	if d.init && p.Seq != d.next && !(d.fin && p.Seq == d.next-1) {
		e.stats.TCPRejected++
		return
	}
	f.flags |= flowRst
	f.s.closed = true
}

// pending reports whether a message is being reassembled in either
// direction: segments held, a head gathered, a dissector buffering.
func (s *scratch) pending() bool {
	for i := range s.tcp {
		d := &s.tcp[i]
		if d.r != nil && (d.r.n > 0 || d.r.nhead > 0) || d.buffering && !d.auto {
			return true
		}
	}
	return false
}

// holes reports whether bytes are held past a hole, or were lost.
func (s *scratch) holes() bool {
	for i := range s.tcp {
		d := &s.tcp[i]
		if d.lost || d.r != nil && d.r.n > 0 {
			return true
		}
	}
	return false
}

// urgent records an urgent byte (RFC 9293 §3.8.5; the pointer names the
// byte after it, as BSD and Linux read it). Linux takes that byte out of
// the stream (unless the application asked for SO_OOBINLINE, which the
// services a DPI box fronts do not), so the dissectors must not see it
// either (ByeDPI's --oob hides a byte inside a ClientHello that way).
// Only the latest urgent byte counts, as in Linux.
func (e *Engine) urgent(d *tcpDir, seq uint32) {
	if seqLT(seq, d.next) {
		return // already read
	}
	d.urg, d.urgSeq = true, seq
}

// deliverAt delivers b, which starts at sequence number seq, without the
// urgent byte if it falls inside.
func (e *Engine) deliverAt(f *Flow, p *Packet, dir Dir, seq uint32, b []byte) bool {
	d := &f.s.tcp[dir]
	if !d.urg || seqLT(d.urgSeq, seq) || !seqLT(d.urgSeq, seq+uint32(len(b))) {
		return e.deliver(f, p, dir, b)
	}
	d.urg = false
	i := int(d.urgSeq - seq)
	progress := false
	if i > 0 {
		progress = e.deliver(f, p, dir, b[:i])
		if f.s == nil {
			return progress
		}
	}
	if i+1 < len(b) {
		progress = e.deliver(f, p, dir, b[i+1:]) || progress
	}
	return progress
}

// deliver hands in-order bytes of dir to the dissectors, gathering a tiny
// head first. It reports whether the bytes only advanced a reassembly.
func (e *Engine) deliver(f *Flow, p *Packet, dir Dir, b []byte) bool {
	s := f.s
	d, o := &s.tcp[dir], &s.tcp[1-dir]
	if !o.delivered && o.r != nil && o.r.nhead > 0 {
		e.flushOther(f, p, dir)
		if f.s == nil {
			return false
		}
	}
	if !d.delivered && !o.delivered {
		// Only the first to speak is gathered: an answer is complete as
		// it comes (the peer is waiting for it).
		r := d.r
		n := len(b)
		if r != nil {
			n += r.nhead
		}
		if n < headMin && p.TCPFlags&TCPFin == 0 {
			if r == nil {
				if r = e.newReasm(); r == nil {
					d.delivered = true
					return e.dissectTCP(f, p, dir, b)
				}
				d.r = r
			}
			r.nhead += copy(r.head[r.nhead:], b)
			return true
		}
		return e.flushHeadWith(f, p, dir, b)
	}
	return e.dissectTCP(f, p, dir, b)
}

// flushOther delivers the other direction's gathered head before dir's
// bytes: its sender is waiting for an answer, so the head is complete.
func (e *Engine) flushOther(f *Flow, p *Packet, dir Dir) {
	e.flushHeadWith(f, e.dirPacket(f, 1-dir), 1-dir, nil)
}

// dirPacket makes a packet of f in direction dir (without payload) for
// dissectors that look at addresses and ports while a gathered head is
// delivered on another packet, or at the flow's end.
func (e *Engine) dirPacket(f *Flow, dir Dir) *Packet {
	q := &e.alt
	*q = Packet{Proto: f.key.proto, IPVersion: f.IPVersion(), VLAN: f.key.vlan, TCPFlags: TCPAck}
	c, sv := f.Client(), f.Server()
	if dir == ToClient {
		c, sv = sv, c
	}
	q.Src, q.SrcPort, q.Dst, q.DstPort = c.Addr(), c.Port(), sv.Addr(), sv.Port()
	return q
}

// flushHead delivers dir's gathered head, if any.
func (e *Engine) flushHead(f *Flow, p *Packet, dir Dir) {
	if f.s == nil {
		return
	}
	if d := &f.s.tcp[dir]; !d.delivered && d.r != nil && d.r.nhead > 0 {
		e.flushHeadWith(f, p, dir, nil)
	}
}

// flushHeads delivers the gathered heads (the budget ran out, or the
// flow ends; p may be nil then).
func (e *Engine) flushHeads(f *Flow) {
	for dir := ToServer; dir <= ToClient && f.s != nil; dir++ {
		if d := &f.s.tcp[dir]; !d.delivered && d.r != nil && d.r.nhead > 0 {
			e.flushHeadWith(f, e.dirPacket(f, dir), dir, nil)
		}
	}
}

// flushHeadWith delivers dir's head followed by b as one payload.
func (e *Engine) flushHeadWith(f *Flow, p *Packet, dir Dir, b []byte) bool {
	d := &f.s.tcp[dir]
	d.delivered = true
	r := d.r
	if r == nil || r.nhead == 0 {
		return e.dissectTCP(f, p, dir, b)
	}
	head := r.head[:r.nhead]
	r.nhead = 0
	if len(b) == 0 {
		return e.dissectTCP(f, p, dir, head)
	}
	buf := e.getBuf()
	if buf == nil {
		// No buffer to join them: deliver the pieces one after the other.
		e.dissectTCP(f, p, dir, head)
		if f.s == nil {
			return false
		}
		return e.dissectTCP(f, p, dir, b)
	}
	buf = append(buf, head...)
	if len(b) > cap(buf)-len(buf) {
		b = b[:cap(buf)-len(buf)]
		d.overflow = true
	}
	buf = append(buf, b...)
	d.buf, d.buffering, d.auto = buf, true, true
	e.dissectSeg(f, p, dir, buf)
	if f.s == nil {
		return false
	}
	if d.auto {
		e.releaseStream(d)
		return false
	}
	return d.buffering
}

// dissectTCP hands one in-order piece of dir to the dissectors, appending
// it to the direction's buffer first when a dissector is buffering. It
// reports whether the piece went into a message still being buffered.
func (e *Engine) dissectTCP(f *Flow, p *Packet, dir Dir, b []byte) bool {
	if len(b) == 0 {
		return false
	}
	d := &f.s.tcp[dir]
	if d.buffering {
		room := cap(d.buf) - len(d.buf)
		if len(b) > room {
			b = b[:room]
			d.overflow = true
			f.s.overflowed |= 1 << dir
		}
		d.buf = append(d.buf, b...)
	}
	e.dissectSeg(f, p, dir, b)
	if f.s == nil {
		return false
	}
	return d.buffering && !d.auto
}

func (e *Engine) dissectSeg(f *Flow, p *Packet, dir Dir, b []byte) {
	s := f.s
	if s.payloads[dir] < 0xffff {
		s.payloads[dir]++
	}
	e.dissect(f, p, dir, b)
}

// holdSegment keeps an out-of-order segment starting rel bytes past
// rcv_nxt. It reports whether new bytes were held.
func (e *Engine) holdSegment(f *Flow, d *tcpDir, rel uint32, pl []byte) bool {
	if d.lost {
		return false
	}
	r := d.r
	if r == nil {
		if r = e.newReasm(); r == nil {
			e.loseStream(d)
			return false
		}
		d.r = r
	}
	if r.hold == nil {
		if r.hold = e.getBuf(); r.hold == nil {
			e.loseStream(d)
			return false
		}
		r.hold = r.hold[:cap(r.hold)]
	}
	if int(rel)+len(pl) > len(r.hold) {
		e.loseStream(d)
		return false
	}
	added := r.insert(f, d.next, rel, pl)
	if added < 0 {
		e.loseStream(d)
		return false
	}
	e.stats.TCPHeld++
	return added > 0
}

// insert adds segment [rel, rel+len(pl)) (offsets from next) under the
// overlap policy. It returns the number of positions it newly covered, or
// -1 when no slot is left.
func (r *reasm) insert(f *Flow, next, rel uint32, pl []byte) int {
	ns, ne := next+rel, next+rel+uint32(len(pl))
	// Bytes already held are compared; the new segment writes where no
	// held segment beats it (one that starts earlier, or as early and
	// ends no sooner). Those all start at or before ns, so what they
	// cover of the new segment is a prefix.
	r.compare(f, next, rel, pl)
	keepTo := ns
	covered := 0
	for i := 0; i < r.n; i++ {
		x := r.segs[i]
		if !seqLT(ns, x.s) && seqLT(keepTo, x.e) && (seqLT(x.s, ns) || !seqLT(x.e, ne)) {
			keepTo = x.e
		}
	}
	if !seqLT(keepTo, ne) {
		return 0 // all the bytes are there already: dropped, as Linux does
	}
	// Positions newly covered (for the budget), before the list changes.
	covered = r.uncovered(ns, ne)
	// Segments the new one covers entirely, starting no earlier, go.
	j := 0
	for i := 0; i < r.n; i++ {
		x := r.segs[i]
		if !seqLT(x.s, ns) && !seqLT(ne, x.e) {
			continue
		}
		r.segs[j] = x
		j++
	}
	r.n = j
	if r.n == holdSegs {
		return -1
	}
	copy(r.hold[keepTo-next:], pl[keepTo-ns:])
	// Insert sorted by start.
	i := r.n
	for i > 0 && seqLT(ns, r.segs[i-1].s) {
		r.segs[i] = r.segs[i-1]
		i--
	}
	r.segs[i] = holdSeg{ns, ne}
	r.n++
	return covered
}

// uncovered counts the positions of [s, e) no held segment covers.
func (r *reasm) uncovered(s, e uint32) int {
	n := int(e - s)
	at := s
	for i := 0; i < r.n && seqLT(at, e); i++ {
		x := r.segs[i]
		if !seqLT(at, x.e) {
			continue
		}
		lo := seqMax(at, x.s)
		if !seqLT(lo, e) {
			break
		}
		hi := x.e
		if seqLT(e, hi) {
			hi = e
		}
		n -= int(hi - lo)
		at = hi
	}
	return n
}

// compare flags RiskTCPIssues when pl, at offset rel past rcv_nxt (next),
// differs from held bytes it overlaps.
func (r *reasm) compare(f *Flow, next, rel uint32, pl []byte) {
	if r.hold == nil {
		return
	}
	ns := next + rel
	ne := ns + uint32(len(pl))
	for i := 0; i < r.n; i++ {
		x := r.segs[i]
		lo, hi := seqMax(x.s, ns), x.e
		if seqLT(ne, hi) {
			hi = ne
		}
		if !seqLT(lo, hi) {
			continue
		}
		if string(r.hold[lo-next:hi-next]) != string(pl[lo-ns:hi-ns]) {
			f.Result.Risks = f.Result.Risks.With(RiskTCPIssues)
			f.s.overlapDiffers = true
			return
		}
	}
}

// pullHeld delivers what the held segments make contiguous once rcv_nxt
// moved n bytes past where the hold buffer starts.
func (e *Engine) pullHeld(f *Flow, p *Packet, dir Dir, n uint32) bool {
	d := &f.s.tcp[dir]
	r := d.r
	r.shift(d.next-n, n)
	at := d.next
	for i := 0; i < r.n && !seqLT(at, r.segs[i].s); i++ {
		at = seqMax(at, r.segs[i].e)
	}
	k := at - d.next
	if k == 0 {
		return false
	}
	d.next = at
	b := r.hold[:k]
	// Drop what is delivered before dissecting: dissection may end the
	// flow and recycle the buffers.
	r.drop(at)
	progress := e.deliverAt(f, p, dir, at-k, b)
	if f.s == nil || d.r != r {
		return progress
	}
	r.shift(at-k, k)
	return progress
}

// shift moves the hold buffer n bytes forward (from base to base+n) and
// forgets the segments that end by then.
func (r *reasm) shift(base, n uint32) {
	if n == 0 || r.hold == nil {
		return
	}
	var far uint32
	for i := 0; i < r.n; i++ {
		if e := r.segs[i].e - base; e > far {
			far = e
		}
	}
	if far > n {
		copy(r.hold, r.hold[n:far])
	}
	r.drop(base + n)
}

// drop forgets the segments that end by seq and clips those it cuts.
func (r *reasm) drop(seq uint32) {
	j := 0
	for i := 0; i < r.n; i++ {
		x := r.segs[i]
		if !seqLT(seq, x.e) {
			continue
		}
		if seqLT(x.s, seq) {
			x.s = seq
		}
		r.segs[j] = x
		j++
	}
	r.n = j
}

// loseStream records that the receiver accepted bytes of d the engine
// could not keep: this direction cannot be followed any more.
func (e *Engine) loseStream(d *tcpDir) {
	d.lost = true
	e.stats.TCPLost++
	e.releaseReasm(d)
	e.releaseStream(d)
}

// markUninspectable flags a flow the engine could not inspect as the
// receiver sees it.
func (e *Engine) markUninspectable(f *Flow) {
	r := &f.Result
	if !r.Uninspectable {
		r.Uninspectable = true
		r.Risks = r.Risks.With(RiskObfuscatedTraffic)
		e.stats.Uninspectable++
	}
}

// unnamed reports whether the flow still lacks what inspection is for:
// nothing found yet, or a name still pending.
func unnamed(r *Result) bool {
	return r.State == Inspecting || r.Hostname == "" && r.Pending&FieldHostname != 0
}

// startStream begins buffering direction d with the bytes of the current
// segment. It fails when the pool is exhausted or the stream was lost.
func (e *Engine) startStream(d *tcpDir, cur []byte) bool {
	if d.buffering {
		d.auto = false // the engine's head buffer becomes the dissector's
		return true
	}
	if d.lost {
		return false
	}
	b := e.getBuf()
	if b == nil {
		return false
	}
	if len(cur) > cap(b) {
		cur = cur[:cap(b)]
		d.overflow = true
	}
	d.buf = append(b, cur...)
	d.buffering = true
	return true
}

// getBuf takes a stream buffer from the pool (nil when exhausted).
func (e *Engine) getBuf() []byte {
	var b []byte
	if n := len(e.streamFree); n > 0 {
		b = e.streamFree[n-1][:0]
		e.streamFree = e.streamFree[:n-1]
	} else if e.streamsOut < e.cfg.MaxStreams {
		b = make([]byte, 0, e.cfg.StreamBytes)
	} else {
		e.stats.StreamsExhausted++
		return nil
	}
	e.streamsOut++
	return b
}

func (e *Engine) putBuf(b []byte) {
	e.streamFree = append(e.streamFree, b[:0])
	e.streamsOut--
}

func (e *Engine) releaseStream(d *tcpDir) {
	if d.buf != nil {
		e.putBuf(d.buf)
	}
	d.buf, d.buffering, d.auto = nil, false, false
}

// newReasm takes a reassembly record from the pool (nil when exhausted:
// as many as stream buffers may exist).
func (e *Engine) newReasm() *reasm {
	if n := len(e.reasmFree); n > 0 {
		r := e.reasmFree[n-1]
		e.reasmFree = e.reasmFree[:n-1]
		e.reasmOut++
		return r
	}
	if e.reasmOut+len(e.reasmFree) >= e.cfg.MaxStreams {
		e.stats.StreamsExhausted++
		return nil
	}
	e.reasmOut++
	return new(reasm)
}

func (e *Engine) releaseReasm(d *tcpDir) {
	r := d.r
	if r == nil {
		return
	}
	d.r = nil
	if r.hold != nil {
		e.putBuf(r.hold)
	}
	r.hold, r.n, r.nhead = nil, 0, 0
	e.reasmFree = append(e.reasmFree, r)
	e.reasmOut--
}
