package dpi

import (
	"encoding/binary"
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
// after a two-byte length), mDNS and LLMNR. It classifies on the query
// (the query name names the application through the catalog) and, for
// unicast DNS, waits for the answer to record its code and addresses and
// to teach the engine which names the addresses belong to.
func dissectDNS(c *Ctx) Status {
	s := &c.s.dns
	proto := s.proto
	if proto == 0 {
		if proto = dnsProto(c.ClientPort(), c.ServerPort()); proto == 0 {
			return Exclude
		}
	}
	msg, st := dnsMessage(c, s)
	if msg == nil {
		return st
	}
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
	// A response: the query's, or the first message seen. When the client
	// asked several questions, the one answered names the flow, as the
	// transaction the record shows.
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
	if s.proto != ProtoMDNS && m.RCode() == 0 && m.NumAddrs > 0 && m.HasQuestion {
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
	return Done
}

// dnsMessage returns the message in this packet, reassembling a TCP
// message split over segments; without a message it returns the status
// to report.
func dnsMessage(c *Ctx, s *dnsState) ([]byte, Status) {
	if c.L4() != IPProtoTCP {
		if len(c.Payload) < dnsmsg.HeaderLen {
			if s.proto == 0 {
				return nil, Exclude
			}
			return nil, dnsStatus(c, s)
		}
		return c.Payload, Continue
	}
	b := c.Stream()
	if len(b) < 2 {
		if c.Buffer() {
			return nil, dnsStatus(c, s)
		}
		if s.proto == 0 {
			return nil, Exclude
		}
		return nil, dnsStatus(c, s)
	}
	n := int(binary.BigEndian.Uint16(b))
	if n < dnsmsg.HeaderLen {
		if s.proto == 0 {
			return nil, Exclude
		}
		return nil, dnsStatus(c, s)
	}
	if len(b)-2 < n && !c.StreamFull() && c.Buffer() {
		// The rest of the message is in later segments. A header must
		// already look like DNS, or this is not worth buffering.
		if len(b) >= 2+dnsmsg.HeaderLen {
			if h, _ := dnsmsg.ParseHeader(b[2:]); h.Opcode() > 5 || h.QDCount > 64 {
				if s.proto == 0 {
					return nil, Exclude
				}
			}
		}
		return nil, dnsStatus(c, s)
	}
	c.Unbuffer()
	return b[2:min(len(b), 2+n)], Continue
}

// dnsStatus is the answer for a packet that teaches nothing new.
func dnsStatus(c *Ctx, s *dnsState) Status {
	if s.proto == 0 {
		return Continue
	}
	if s.waited++; s.waited > dnsWait {
		return Done
	}
	if s.multi {
		c.Pending(FieldHostname | FieldRisks | FieldMeta)
	} else {
		c.Pending(FieldRisks | FieldMeta)
	}
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
