package dpi

import "net/netip"

// Status is a dissector's answer for one packet.
type Status uint8

const (
	// Continue: undecided; call again with the flow's next payload.
	Continue Status = iota
	// Exclude: not this protocol; never call again for this flow.
	Exclude
	// Done: the flow is classified and nothing more is wanted.
	Done
	// More: the flow is classified, but this dissector wants more packets
	// (to refine the application or collect metadata and risks). Only it
	// runs from now on; the flow is Partial until it says Done or the
	// budget runs out.
	More
)

// L4 masks for dissectors.
const (
	onTCP uint8 = 1 << iota
	onUDP
)

// dissector describes one protocol detector. Dissectors are stateless
// values; per-flow state lives in the flow's scratch.
type dissector struct {
	name string
	l4   uint8
	// Port hints: a dissector whose port matches either end is tried
	// before the others. They never decide anything on their own.
	tcpPorts, udpPorts []uint16
	// fn inspects one payload. It must not retain c or the payload.
	fn func(c *Ctx) Status
}

// Ctx is what a dissector sees of one packet. The engine reuses one Ctx.
type Ctx struct {
	e    *Engine
	Flow *Flow
	Pkt  *Packet
	Dir  Dir
	// Payload is the packet's new in-order transport payload.
	Payload []byte
	s       *scratch
	cur     uint16 // index of the dissector being called
}

// Stream is the in-order byte stream of this direction buffered so far
// (including Payload) when the direction is buffering, else Payload.
func (c *Ctx) Stream() []byte {
	if c.Flow.key.proto == IPProtoTCP {
		if d := &c.s.tcp[c.Dir]; d.buffering {
			return d.buf
		}
	}
	return c.Payload
}

// Buffer asks the engine to keep this direction's stream from the current
// segment on, for messages split over segments. It reports false when
// reassembly is impossible (UDP, a missed segment, the pool exhausted).
func (c *Ctx) Buffer() bool {
	if c.Flow.key.proto != IPProtoTCP {
		return false
	}
	return c.e.startStream(&c.s.tcp[c.Dir], c.Payload)
}

// Buffering reports whether this direction is being buffered.
func (c *Ctx) Buffering() bool {
	return c.Flow.key.proto == IPProtoTCP && c.s.tcp[c.Dir].buffering
}

// StreamFull reports whether the buffer for this direction hit its bound.
func (c *Ctx) StreamFull() bool {
	return c.Flow.key.proto == IPProtoTCP && c.s.tcp[c.Dir].overflow
}

// Incomplete tells the engine that this direction's stream buffer holds
// the start of a message the dissector is still reading (a ClientHello
// spread over many small segments or records, an HTTP head split byte by
// byte). While it stays so, the next bytes of this direction go to this
// dissector alone (the middle of a TLS record is nobody else's first
// packet). TCP segments that add to a buffered message, and the ACKs they
// draw, are not charged to the packet budget anyway (up to freeCap per
// flow, stream.go); the declaration also spares datagrams (up to
// maxDatagramExempt: QUIC CRYPTO data over many Initials), and a flow
// whose budget runs out with a message half read is Uninspectable. The
// declaration holds until the dissector's next call in this direction.
func (c *Ctx) Incomplete() {
	c.s.incomplete, c.s.incDir, c.s.incBy = true, c.Dir, c.cur
}

// Uninspectable reports that the dissector cannot read what would name the
// flow (see Result.Uninspectable): the flow gets the flag and the risk
// Obfuscated Traffic, for the policy's on_uninspectable choice.
func (c *Ctx) Uninspectable() { c.e.markUninspectable(c.Flow) }

// ShrinkStream tells the engine that the dissector rewrote this
// direction's stream buffer in place (dropping bytes it has consumed,
// such as TLS record headers) and that only its first n bytes remain: the
// engine appends the next in-order bytes after them, so the room freed
// serves the rest of the message.
func (c *Ctx) ShrinkStream(n int) {
	if c.Flow.key.proto != IPProtoTCP {
		return
	}
	if d := &c.s.tcp[c.Dir]; d.buffering && n >= 0 && n <= len(d.buf) {
		d.buf = d.buf[:n]
	}
}

// Unbuffer stops buffering this direction and returns the buffer.
func (c *Ctx) Unbuffer() {
	if c.Flow.key.proto == IPProtoTCP {
		c.e.releaseStream(&c.s.tcp[c.Dir])
	}
}

// Set classifies the flow: master protocol and, when known, application.
// A later call refines an earlier one.
func (c *Ctx) Set(master, app ProtoID) {
	r := &c.Flow.Result
	r.Master = master
	if app != 0 {
		r.App = app
	}
	if r.Confidence == ConfUnknown || r.Confidence == ConfPort {
		r.Confidence = ConfDPI
	}
}

// Pending declares what later packets may still change while the flow is
// Partial (the policy uses it to decide early). Without a declaration the
// engine assumes everything may change.
func (c *Ctx) Pending(f Field) { c.Flow.Result.Pending = f }

// SetApp sets only the application.
func (c *Ctx) SetApp(app ProtoID) {
	c.Flow.Result.App = app
}

// SetHostname records the requested server name, in the canonical form
// a server compares (netmatch.AppendCanonicalHost: lower case, no port,
// no trailing dot; interned), and looks it up in the catalog: a known
// service becomes the flow's application unless a dissector already named
// one. It returns the name recorded ("" when b names nothing).
func (c *Ctx) SetHostname(b []byte) string {
	h := c.e.intern.host(b)
	if h == "" {
		return ""
	}
	c.setHostname(h)
	return h
}

func (c *Ctx) setHostname(h string) {
	c.Flow.Result.Hostname = h
	c.applyHostRule(h)
}

// SetCategory overrides the flow's category with what the payload showed
// (an HTTP response carrying a program is Download whatever the host), the
// way a catalog category does; 0 clears an override.
func (c *Ctx) SetCategory(cat CategoryID) { c.s.catCategory = cat }

// Intern returns b as a shared string (no allocation when seen before).
func (c *Ctx) Intern(b []byte) string { return c.e.intern.bytes(b) }

// AddRisk flags a risk on the flow.
func (c *Ctx) AddRisk(r RiskID) { c.Flow.Result.Risks = c.Flow.Result.Risks.With(r) }

// Meta returns the flow's metadata record, creating it on first use.
func (c *Ctx) Meta() *Meta { return c.e.meta(c.Flow) }

// ServerPort and ClientPort are the flow's ports.
func (c *Ctx) ServerPort() uint16 { return c.Flow.serverPort() }
func (c *Ctx) ClientPort() uint16 { return c.Flow.clientPort() }

// L4 is the flow's IP protocol.
func (c *Ctx) L4() uint8 { return c.Flow.key.proto }

// Payloads is the number of packets with payload seen in direction d so far
// (including the current one).
func (c *Ctx) Payloads(d Dir) int { return int(c.s.payloads[d]) }

// LearnDNS records a DNS answer for the shared IP → hostname cache.
func (c *Ctx) LearnDNS(a netip.Addr, name string) { c.e.dns.Put(a, name) }

// Catalog is the catalog in use.
func (c *Ctx) Catalog() *Catalog { return c.e.catalog.Load() }

// dispatch indexes a dissector list for quick selection: per transport in
// priority order, and by port hint.
type dispatch struct {
	list  []dissector
	byL4  [2][]uint16 // [0] TCP, [1] UDP
	ports map[portKey][]uint16
}

func newDispatch(list []dissector) *dispatch {
	d := &dispatch{list: list, ports: map[portKey][]uint16{}}
	for i := range list {
		x := &list[i]
		if x.l4&onTCP != 0 {
			d.byL4[0] = append(d.byL4[0], uint16(i))
		}
		if x.l4&onUDP != 0 {
			d.byL4[1] = append(d.byL4[1], uint16(i))
		}
		for _, p := range x.tcpPorts {
			k := portKey{IPProtoTCP, p}
			d.ports[k] = append(d.ports[k], uint16(i))
		}
		for _, p := range x.udpPorts {
			k := portKey{IPProtoUDP, p}
			d.ports[k] = append(d.ports[k], uint16(i))
		}
	}
	return d
}

// dissect runs the plausible dissectors over one payload: those hinted by
// either port first, then the rest for the transport, in priority order.
func (e *Engine) dissect(f *Flow, p *Packet, dir Dir, payload []byte) {
	s := f.s
	c := &e.ctx
	c.Flow, c.Pkt, c.Dir, c.Payload, c.s = f, p, dir, payload, s
	defer func() { c.Flow, c.Pkt, c.Payload, c.s = nil, nil, nil, nil }()

	d := e.disp
	if s.owner != 0 {
		c.cur = s.owner - 1
		if s.incDir == dir {
			s.incomplete = false // the dissector says again if it still is
		}
		e.apply(f, int(s.owner-1), d.list[s.owner-1].fn(c))
		return
	}
	skip := -1
	if s.incomplete && s.incDir == dir {
		// A dissector is half way through a message of this direction:
		// the new bytes are its own. Should it be done with the message
		// unclassified, the others are tried on the same payload.
		i := s.incBy
		s.incomplete = false
		c.cur = i
		if e.apply(f, int(i), d.list[i].fn(c)) || s.incomplete {
			return
		}
		skip = int(i)
	}
	var all []uint16
	switch f.key.proto {
	case IPProtoTCP:
		all = d.byL4[0]
	case IPProtoUDP:
		all = d.byL4[1]
	default:
		return
	}
	// Dissectors hinted by either port go first, each group in priority
	// order.
	var hinted [dissectorWords]uint64
	any := false
	for _, port := range [2]uint16{f.key.loPort, f.key.hiPort} {
		for _, i := range d.ports[portKey{f.key.proto, port}] {
			hinted[i/64] |= 1 << (i % 64)
			any = true
		}
	}
	for pass := range 2 {
		if pass == 0 && !any {
			continue
		}
		for _, i := range all {
			w, bit := i/64, uint64(1)<<(i%64)
			if s.excluded[w]&bit != 0 || (hinted[w]&bit != 0) != (pass == 0) || int(i) == skip {
				continue
			}
			c.cur = i
			if e.apply(f, int(i), d.list[i].fn(c)) || s.incomplete && s.incDir == dir {
				return // classified, or a message is being read: it waits for its bytes
			}
		}
	}
}

// apply records a dissector's status; it reports whether dispatch stops.
func (e *Engine) apply(f *Flow, i int, st Status) bool {
	s := f.s
	r := &f.Result
	switch st {
	case Exclude:
		s.excluded[i/64] |= 1 << (i % 64)
		if s.owner == uint16(i+1) {
			// The owner gave up on refinement; keep what it found.
			e.finish(f, Classified)
			return true
		}
		return false
	case Done:
		e.finish(f, Classified)
		return true
	case More:
		s.owner = uint16(i + 1)
		r.State = Partial
		if r.Pending == 0 {
			r.Pending = FieldApp | FieldHostname | FieldRisks | FieldMeta
		}
		e.setCategory(f)
		return true
	}
	return false
}
