package dpi

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"net/netip"

	"ips/dpi/dnsmsg"
)

// dnsState is the DNS dissector's per-flow state.
type dnsState struct {
	proto   ProtoID // DNS, MDNS or LLMNR, once classified
	waited  uint8   // packets seen since the query, waiting for the answer
	queried bool
	// multi: the client sent a second query (another transaction id) on
	// the same socket, so the flow's name follows the answers.
	multi bool
	qid   uint16
	// ednsQuery is the UDP payload size the query advertised (RFC 6891):
	// answers up to it are not oversized.
	ednsQuery uint16
	counted   uint8 // the packet (DPIPackets, low byte) waited counted last
	// tcpOff is, per direction, where the next length-prefixed message
	// starts in the buffered TCP stream (buffers beyond 64 KiB are read
	// up to there).
	tcpOff [2]uint16
	// pend is the index+1 in the engine's bounded pool of the queries the
	// client sent that await an answer (0: none recorded). An index, not
	// a pointer: the scratch of every flow carries this field, and a
	// pointer-sized one would push it into the next allocation size class.
	pend uint16
}

// DNS answers teach the engine's cache which name an address belongs to,
// and that name then describes other flows (and decides them, when a
// policy matches hostnames). So an answer is believed only when it
// answers a query this flow's client sent: the same transaction id and
// question (name, case-insensitively, type and class), coming back from
// the server the query went to (the flow's other end, and when the
// caller knows the sides, entering from the other side of the gateway),
// within dnsAnswerWindow. A forged answer sent from the LAN, an answer
// nobody asked for and one that arrives too late name nothing. Each
// answer is believed once.
const (
	// dnsPendingPerFlow is the queries a flow may have awaiting answers
	// at once (a stub resolver asks A and AAAA together; pipelining over
	// TCP, RFC 7766 §6.2.1.1, may ask more); a further query replaces the
	// oldest.
	dnsPendingPerFlow = 4
	// dnsAnswerWindow is how long after its query an answer is believed
	// (stub resolvers give up after 5 s and retry with the same id).
	dnsAnswerWindow = 10_000 // milliseconds
	// DefaultDNSPending is the default Config.DNSPending (at most 65535).
	DefaultDNSPending = 16384
)

// dnsQuery is one recorded query (16 bytes).
type dnsQuery struct {
	name              uint32 // keyed hash of the lower-cased question name
	sent              uint32 // milliseconds, wrapping
	id, qtype, qclass uint16
	ingress           Ingress
	used              bool
}

// dnsPending is the recorded queries of one flow (64 bytes), pooled by
// the engine: only flows that sent a unicast DNS query hold one.
type dnsPending struct {
	q [dnsPendingPerFlow]dnsQuery
}

// dnsPendingOf is the flow's recorded queries, or nil.
func (e *Engine) dnsPendingOf(s *dnsState) *dnsPending {
	if s.pend == 0 {
		return nil
	}
	return &e.dnsPool[s.pend-1]
}

func (e *Engine) dnsAcquire(s *dnsState) *dnsPending {
	if s.pend != 0 {
		return e.dnsPendingOf(s)
	}
	if n := len(e.dnsFree); n > 0 {
		s.pend = e.dnsFree[n-1]
		e.dnsFree = e.dnsFree[:n-1]
	} else if len(e.dnsPool) < min(e.cfg.DNSPending, 0xffff) {
		e.dnsPool = append(e.dnsPool, dnsPending{})
		s.pend = uint16(len(e.dnsPool))
	} else {
		e.stats.DNSPendingExhausted++
		return nil
	}
	e.dnsOut++
	return e.dnsPendingOf(s)
}

// dnsRelease returns a flow's recorded queries to the pool.
func (e *Engine) dnsRelease(s *scratch) {
	if p := e.dnsPendingOf(&s.dns); p != nil {
		*p = dnsPending{}
		e.dnsFree = append(e.dnsFree, s.dns.pend)
		e.dnsOut--
		s.dns.pend = 0
	}
}

// dnsQuestion is the keyed hash of m's question name, lower-cased.
func (e *Engine) dnsQuestion(m *dnsmsg.Message) uint32 {
	var buf [dnsmsg.MaxName]byte
	b := buf[:copy(buf[:], m.Name.Bytes())]
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return uint32(maphash.Bytes(e.t.seed, b))
}

func nowMillis(c *Ctx) uint32 { return uint32(c.Flow.LastSeen / 1e6) }

// dnsRecord remembers a query the client sent.
func dnsRecord(c *Ctx, s *dnsState, m *dnsmsg.Message) {
	if c.Dir != ToServer || !m.HasQuestion {
		return
	}
	p := c.e.dnsAcquire(s)
	if p == nil {
		return
	}
	q := dnsQuery{name: c.e.dnsQuestion(m), sent: nowMillis(c), id: m.ID, qtype: m.QType, qclass: m.QClass,
		ingress: c.Pkt.Ingress, used: true}
	slot, oldest := -1, 0
	for i := range p.q {
		e := &p.q[i]
		switch {
		case e.used && e.id == q.id && e.name == q.name && e.qtype == q.qtype && e.qclass == q.qclass:
			slot = i // a retransmission: the window starts again
		case !e.used && slot < 0:
			slot = i
		}
		if nowMillis(c)-e.sent > nowMillis(c)-p.q[oldest].sent {
			oldest = i
		}
	}
	if slot < 0 {
		slot = oldest
	}
	p.q[slot] = q
}

// dnsAnswers reports whether the response m answers a recorded query
// (and uses that query up).
func dnsAnswers(c *Ctx, s *dnsState, m *dnsmsg.Message) bool {
	p := c.e.dnsPendingOf(s)
	if p == nil || c.Dir != ToClient || !m.HasQuestion {
		return false
	}
	name := c.e.dnsQuestion(m)
	now := nowMillis(c)
	for i := range p.q {
		q := &p.q[i]
		if !q.used || q.id != m.ID || q.name != name || q.qtype != m.QType || q.qclass != m.QClass {
			continue
		}
		if now-q.sent > dnsAnswerWindow {
			q.used = false
			return false
		}
		if q.ingress != IngressUnknown && q.ingress == c.Pkt.Ingress {
			return false // came in from the side the query came from
		}
		q.used = false
		return true
	}
	return false
}

// dnsAwaiting reports whether recorded queries still await answers.
func dnsAwaiting(c *Ctx, s *dnsState) bool {
	p := c.e.dnsPendingOf(s)
	if p == nil {
		return false
	}
	for i := range p.q {
		if p.q[i].used {
			return true
		}
	}
	return false
}

// Standard ports (RFC 1035 §4.2, RFC 6762 §5, RFC 4795 §2.5). As nDPI
// does, the messages are only looked for on them: elsewhere, too many
// binary protocols look like a DNS header.
const (
	portDNS   = 53
	portMDNS  = 5353
	portLLMNR = 5355
)

// dnsWait bounds the packets a classified query waits for its answer
// (TCP acknowledgements and a retransmitted query included).
const dnsWait = 5

// dnsLabelAlert is the first-label length beyond which a name looks like
// data smuggled out through DNS (as nDPI judges it): host labels are
// short, encoded payloads fill labels up to the 63-octet limit.
const dnsLabelAlert = 48

// dnsProto picks DNS, MDNS or LLMNR by port, the client's first, as nDPI
// does.
func dnsProto(client, server uint16) ProtoID {
	for _, p := range [2]uint16{client, server} {
		switch p {
		case portDNS:
			return ProtoDNS
		case portMDNS:
			return ProtoMDNS
		case portLLMNR:
			return ProtoLLMNR
		}
	}
	return 0
}

// dissectDNS reads DNS over UDP and TCP (RFC 1035 §4.2.2: each message
// after a two-byte length, several per connection), mDNS and LLMNR. It
// classifies on the query (the query name names the application through
// the catalog) and, for unicast DNS, waits for the answer to record its
// code and addresses and, when it answers the client's query, to teach
// the engine which names the addresses belong to.
func dissectDNS(c *Ctx) Status {
	s := &c.s.dns
	proto := s.proto
	if proto == 0 {
		if proto = dnsProto(c.ClientPort(), c.ServerPort()); proto == 0 {
			return Exclude
		}
	}
	if c.L4() == IPProtoTCP {
		return dnsTCP(c, s, proto)
	}
	if len(c.Payload) < dnsmsg.HeaderLen {
		if s.proto == 0 {
			return Exclude
		}
		return dnsStatus(c, s)
	}
	return dnsHandle(c, s, proto, c.Payload)
}

// dnsHandle reads one message.
func dnsHandle(c *Ctx, s *dnsState, proto ProtoID, msg []byte) Status {
	var m dnsmsg.Message
	if err := m.Parse(msg); err != nil {
		if s.proto == 0 {
			return Exclude
		}
		c.AddRisk(RiskMalformedPacket)
		return dnsStatus(c, s)
	}
	if s.proto == 0 && c.L4() == IPProtoUDP && !dnsMulticastOK(c, &m) {
		return Exclude
	}
	first := s.proto == 0
	if first {
		s.proto = proto
		c.Set(proto, 0)
	}
	if !m.Response() {
		if s.proto == ProtoDNS {
			dnsRecord(c, s, &m)
		}
		if s.queried || !first && s.proto != ProtoDNS {
			if s.queried && m.ID != s.qid {
				s.multi = true
			}
			return dnsStatus(c, s) // a retransmitted or second query adds nothing
		}
		s.queried, s.qid = true, m.ID
		s.ednsQuery = m.EDNSSize
		dnsName(c, s, &m, true)
		dnsRisks(c, s, &m)
		c.Meta().QueryType = m.QType
		if s.proto != ProtoDNS {
			// mDNS and LLMNR queries go to a multicast group; the
			// answers come from other hosts, in other flows.
			return Done
		}
		return dnsStatus(c, s)
	}
	answers := dnsAnswers(c, s, &m)
	if !answers && dnsAwaiting(c, s) {
		// Not the answer to what the client asked (another id or
		// question, from the client's side, too late): it describes
		// nothing, and the real answer may still come.
		return dnsStatus(c, s)
	}
	// A response: the query's, or the first message seen. When the client
	// asked several questions, the one answered names the flow, as the
	// transaction the record shows. An answer nobody was seen asking for
	// (a capture that starts late, a forgery) still describes its own
	// flow, as nDPI shows it, but teaches the cache nothing.
	dnsName(c, s, &m, c.Flow.Result.Hostname == "" || s.multi)
	dnsRisks(c, s, &m)
	meta := c.Meta()
	if meta.QueryType == 0 {
		meta.QueryType = m.QType
	}
	meta.RCode, meta.HasReply = m.RCode(), true
	n := min(m.NumAddrs, len(meta.Answers))
	copy(meta.Answers[:], m.Addrs[:n])
	meta.NumAnswers = uint8(n)
	if m.RCode() != 0 {
		c.AddRisk(RiskErrorCodeDetected)
	}
	if s.proto == ProtoDNS && c.L4() == IPProtoUDP && len(msg) > 512 &&
		len(msg) > int(max(s.ednsQuery, m.EDNSSize)) {
		c.AddRisk(RiskDNSLargePacket)
	}
	if answers && s.proto != ProtoMDNS && m.RCode() == 0 && m.NumAddrs > 0 && m.HasQuestion {
		if name := dnsLearnName(c, &m); name != "" {
			for _, a := range m.Addrs[:m.NumAddrs] {
				c.LearnDNS(a, name)
			}
		}
	}
	if m.ANCount == 0 && m.NSCount == 0 && m.ARCount == 0 {
		// An answer without records (a bare error): another answer to a
		// second query on the same socket may follow, as nDPI waits for.
		return dnsStatus(c, s)
	}
	if c.L4() == IPProtoTCP && dnsAwaiting(c, s) {
		return dnsStatus(c, s) // pipelined queries still to be answered
	}
	return Done
}

// dnsTCP reads the messages of this direction's stream: each after its
// two-byte length, several per connection, split across segments any
// way. Complete messages are read from the segment itself; from the first
// one split over segments on, the direction is buffered. When it cannot
// be (the pool is exhausted, a segment was missed), a segment is read as
// starting with a message, which is what most stacks send.
func dnsTCP(c *Ctx, s *dnsState, proto ProtoID) Status {
	d := c.Dir
	b, off := c.Payload, 0
	if c.Buffering() {
		b, off = c.Stream(), int(s.tcpOff[d])
		b = b[:min(len(b), 0xffff)]
	}
	st := Continue
	for {
		rest := b[min(off, len(b)):]
		if len(rest) == 0 && off > 0 {
			return st
		}
		n := 2
		if len(rest) >= 2 {
			n += int(binary.BigEndian.Uint16(rest))
		}
		if len(rest) < n && !c.StreamFull() {
			if !c.Buffering() && c.Buffer() {
				s.tcpOff[d] = uint16(min(off, 0xffff)) // the buffer starts with this segment
			}
			return dnsTCPMessage(c, s, proto, rest, false)
		}
		rest = rest[:min(n, len(rest))]
		off += len(rest)
		if c.Buffering() {
			s.tcpOff[d] = uint16(off)
		}
		if st = dnsTCPMessage(c, s, proto, rest, true); st == Exclude || st == Done {
			return st
		}
	}
}

// dnsTCPMessage reads one length-prefixed message; complete: nothing more
// of it will come (else the status is the one to wait with).
func dnsTCPMessage(c *Ctx, s *dnsState, proto ProtoID, b []byte, complete bool) Status {
	if len(b) < 2 {
		return dnsWaitMore(c, s)
	}
	n := int(binary.BigEndian.Uint16(b))
	if n < dnsmsg.HeaderLen {
		if s.proto == 0 {
			return Exclude
		}
		return dnsStatus(c, s)
	}
	if len(b)-2 < n && !complete {
		// The rest of the message is in later segments. A header must
		// already look like DNS, or this is not worth buffering.
		if len(b) >= 2+dnsmsg.HeaderLen {
			if h, _ := dnsmsg.ParseHeader(b[2:]); h.Opcode() > 5 || h.QDCount > 64 {
				if s.proto == 0 {
					return Exclude
				}
			}
		}
		return dnsStatus(c, s)
	}
	return dnsHandle(c, s, proto, b[2:min(len(b), 2+n)])
}

func dnsWaitMore(c *Ctx, s *dnsState) Status {
	if s.proto == 0 && !c.Buffering() && !c.Buffer() {
		return Exclude
	}
	return dnsStatus(c, s)
}

// dnsStatus is the answer for a packet that teaches nothing new.
func dnsStatus(c *Ctx, s *dnsState) Status {
	if s.proto == 0 {
		return Continue
	}
	if s.counted != uint8(c.Flow.Result.DPIPackets) { // once per packet, however many messages it holds
		s.counted = uint8(c.Flow.Result.DPIPackets)
		if s.waited++; s.waited > dnsWait {
			return Done
		}
	}
	f := FieldRisks | FieldMeta
	if s.multi {
		f |= FieldHostname
	}
	if s.proto == ProtoDNS && dnsAwaiting(c, s) {
		f |= FieldDNSAnswer // the answer may still teach the cache
	}
	c.Pending(f)
	return More
}

// dnsMulticastOK applies nDPI's guard against unicast traffic on the
// mDNS and LLMNR ports: a query sent to such a port outside the protocol's
// multicast group must be a plain standard query.
func dnsMulticastOK(c *Ctx, m *dnsmsg.Message) bool {
	dst := c.Pkt.Dst.Unmap()
	var group bool
	switch c.Pkt.DstPort {
	case portMDNS:
		group = dst == netip.AddrFrom4([4]byte{224, 0, 0, 251}) || dst == mdnsGroup6
	case portLLMNR:
		group = dst == netip.AddrFrom4([4]byte{224, 0, 0, 252}) || dst == llmnrGroup6
	default:
		return true
	}
	return group || m.Flags == 0 || m.QDCount == 0
}

var (
	mdnsGroup6  = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0xfb})
	llmnrGroup6 = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 13: 0x01, 14: 0x00, 15: 0x03})
)

// dnsName sets the flow's hostname from the message's name. Host names
// (DNS, LLMNR) keep letters, digits, '-' and '_', lower-cased; any other
// printable byte becomes '_' and any other byte '?', as nDPI shows them.
// mDNS names are free-form UTF-8 (RFC 6762 §16) and keep their bytes.
func dnsName(c *Ctx, s *dnsState, m *dnsmsg.Message, set bool) {
	if !set || m.Name.Len() == 0 {
		return
	}
	var buf [dnsmsg.MaxName]byte
	c.SetHostname(dnsDisplayName(buf[:0], m, s.proto))
	// DNS, mDNS and LLMNR are Network traffic whatever they ask about;
	// the name names the application (DNS.YouTube), not the category.
	c.SetCategory(0)
	if looksDGA(c.Flow.Result.Hostname) {
		c.AddRisk(RiskSuspiciousDGADomain)
	}
}

func dnsDisplayName(dst []byte, m *dnsmsg.Message, proto ProtoID) []byte {
	for _, ch := range m.Name.Bytes() {
		switch {
		case ch == '.' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_':
		case 'A' <= ch && ch <= 'Z':
			ch += 'a' - 'A'
		case ch < 0x20 || ch == 0x7f:
			ch = '?'
		case proto == ProtoMDNS:
		case ch < 0x7f:
			ch = '_'
		default:
			ch = '?'
		}
		dst = append(dst, ch)
	}
	return dst
}

// dnsLearnName is the name the response's addresses are learned for: its
// question, as the hostname would show it.
func dnsLearnName(c *Ctx, m *dnsmsg.Message) string {
	var buf [dnsmsg.MaxName]byte
	name := dnsDisplayName(buf[:0], m, ProtoDNS)
	if h := c.Flow.Result.Hostname; h == string(name) {
		return h
	}
	return c.Intern(name)
}

// dnsRisks flags what a message shows.
func dnsRisks(c *Ctx, s *dnsState, m *dnsmsg.Message) {
	mdns := s.proto == ProtoMDNS
	if !mdns && m.Name.NonHost {
		c.AddRisk(RiskInvalidCharacters)
	}
	if !mdns && dnsTunnelLike(m) {
		c.AddRisk(RiskDNSSuspiciousTraffic)
	}
	// Obsolete record types are what tunnels (iodine's NULL records)
	// carry their data in.
	if m.ObsoleteType || !mdns && m.HasQuestion && dnsmsg.Obsolete(m.QType) {
		c.AddRisk(RiskDNSSuspiciousTraffic)
	}
	// A zero TTL defeats caching (fast flux, tunnels); mDNS uses it to say
	// goodbye (RFC 6762 §10.1).
	if m.ZeroTTL && !mdns {
		c.AddRisk(RiskMinorIssues)
	}
	if m.Partial && c.Pkt.Flags&(FlagFragment|FlagTruncated) == 0 {
		c.AddRisk(RiskMalformedPacket)
	}
	if s.proto == ProtoDNS && c.Pkt.Flags&FlagFragment != 0 {
		c.AddRisk(RiskDNSFragmented)
	}
}

// dnsLongLabelExempt are zones whose names legitimately start with long
// labels: DNS block-list lookups of hashed URLs and CDN edge names.
var dnsLongLabelExempt = [...]string{
	"multi.surbl.org", "spamhaus.org", "rackcdn.com", "akamaiedge.net", "mx-verification.google.com", "amazonaws.com",
}

// dnsTunnelLike reports a name that carries data rather than naming a
// host: a first label longer than any host label (reverse lookups and
// block-list zones aside), or at least 48 subdomain letters and digits as
// random as encoded data (≥ 4.4 bits each). Hex digests (≤ 4 bits per
// character, as in antivirus hash lookups) and long descriptive names
// (about 4.1 at most) stay below the bar; base32/base64 payloads of DNS
// tunnels, which fill the name, exceed it.
func dnsTunnelLike(m *dnsmsg.Message) bool {
	name := m.Name.Bytes()
	if hasSuffixBytes(name, ".in-addr.arpa") || hasSuffixBytes(name, ".ip6.arpa") {
		return false
	}
	if int(m.Name.FirstLabel) > dnsLabelAlert {
		for _, z := range dnsLongLabelExempt {
			if hasSuffixBytes(name, z) {
				return false
			}
		}
		return true
	}
	// The subdomain part: all but the last two labels.
	end, dots := len(name), 0
	for end > 0 && dots < 2 {
		end--
		if name[end] == '.' {
			dots++
		}
	}
	if dots < 2 {
		return false
	}
	var counts [36]uint16
	n := 0
	for _, ch := range name[:end] {
		switch {
		case 'a' <= ch && ch <= 'z':
			counts[ch-'a']++
		case 'A' <= ch && ch <= 'Z':
			counts[ch-'A']++
		case '0' <= ch && ch <= '9':
			counts[26+ch-'0']++
		default:
			continue
		}
		n++
	}
	if n < 48 {
		return false
	}
	h := 0.0
	for _, k := range counts {
		if k > 0 {
			p := float64(k) / float64(n)
			h -= p * math.Log2(p)
		}
	}
	return h >= 4.4
}

func hasSuffixBytes(b []byte, suffix string) bool {
	if len(b) < len(suffix) {
		return false
	}
	t := b[len(b)-len(suffix):]
	for i := range t {
		ch := t[i]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != suffix[i] {
			return false
		}
	}
	// Whole labels only: "xamazonaws.com" is not under "amazonaws.com".
	return len(b) == len(suffix) || suffix[0] == '.' || b[len(b)-len(suffix)-1] == '.'
}
