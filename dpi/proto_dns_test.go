package dpi

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
)

// dnsMsg writes DNS messages in the wire format of RFC 1035 §4.1: header
// (§4.1.1), question (§4.1.2), resource records (§4.1.3), names as labels
// (§3.1) or compression pointers (§4.1.4).
type dnsMsg struct{ b []byte }

func newDNSMsg(id, flags, qd, an, ns, ar uint16) *dnsMsg {
	m := &dnsMsg{}
	for _, v := range [...]uint16{id, flags, qd, an, ns, ar} {
		m.b = binary.BigEndian.AppendUint16(m.b, v)
	}
	return m
}

func (m *dnsMsg) name(s string) *dnsMsg {
	if s != "" {
		for _, l := range strings.Split(s, ".") {
			m.b = append(m.b, byte(len(l)))
			m.b = append(m.b, l...)
		}
	}
	m.b = append(m.b, 0)
	return m
}

func (m *dnsMsg) ptr(off int) *dnsMsg {
	m.b = append(m.b, 0xc0|byte(off>>8), byte(off))
	return m
}

func (m *dnsMsg) question(name string, typ uint16) *dnsMsg {
	m.name(name)
	m.b = binary.BigEndian.AppendUint16(m.b, typ)
	m.b = binary.BigEndian.AppendUint16(m.b, 1)
	return m
}

func (m *dnsMsg) rr(typ, class uint16, ttl uint32, rdata []byte) *dnsMsg {
	m.b = binary.BigEndian.AppendUint16(m.b, typ)
	m.b = binary.BigEndian.AppendUint16(m.b, class)
	m.b = binary.BigEndian.AppendUint32(m.b, ttl)
	m.b = binary.BigEndian.AppendUint16(m.b, uint16(len(rdata)))
	m.b = append(m.b, rdata...)
	return m
}

// tcp prefixes the two-byte length of DNS over TCP (RFC 1035 §4.2.2).
func (m *dnsMsg) tcp() []byte { return binary.BigEndian.AppendUint16(nil, uint16(len(m.b))) }

func wire(name string) []byte { return (&dnsMsg{}).name(name).b }

const (
	dnsRD = 0x0100
	dnsQR = 0x8180 // response, RD, RA
)

// dnsAnswer is the response for www.youtube.com: a CNAME to
// youtube-ui.l.google.com, which has an A and an AAAA record.
func dnsAnswer(id uint16) []byte {
	m := newDNSMsg(id, dnsQR, 1, 3, 0, 0).question("www.youtube.com", 1)
	m.ptr(12).rr(5, 1, 300, wire("youtube-ui.l.google.com"))
	m.name("youtube-ui.l.google.com").rr(1, 1, 60, []byte{142, 250, 180, 142})
	m.name("youtube-ui.l.google.com").rr(28, 1, 60, netip.MustParseAddr("2a00:1450:4002:410::200e").AsSlice())
	return m.b
}

func TestDNSQueryThenResponse(t *testing.T) {
	s := newSim(t, IPProtoUDP, "10.0.0.1:53000", "192.0.2.53:53")
	f := s.send(ToServer, newDNSMsg(0x1d2e, dnsRD, 1, 0, 0, 0).question("www.youtube.com", 1).b)
	r := &f.Result
	if r.State != Partial || r.Master != ProtoDNS || r.App != ProtoYouTube || r.Hostname != "www.youtube.com" {
		t.Fatalf("after the query: %v %v.%v %q", r.State, r.Master, r.App, r.Hostname)
	}
	if r.Pending != FieldRisks|FieldMeta|FieldDNSAnswer || r.Category != CategoryNetwork {
		t.Errorf("pending %b, category %v", r.Pending, r.Category)
	}
	f = s.send(ToClient, dnsAnswer(0x1d2e))
	r = &f.Result
	m := r.Meta
	if r.State != Classified || !m.HasReply || m.RCode != 0 || m.QueryType != 1 || m.NumAnswers != 2 {
		t.Fatalf("after the response: %v %+v", r.State, *m)
	}
	if m.Answers[0] != netip.MustParseAddr("142.250.180.142") || m.Answers[1] != netip.MustParseAddr("2a00:1450:4002:410::200e") {
		t.Errorf("answers %v", m.Answers[:m.NumAnswers])
	}
	if r.DPIPackets != 2 || r.Risks != 0 || r.Category != CategoryNetwork {
		t.Errorf("dpi packets %d, risks %v, category %v", r.DPIPackets, r.Risks.AppendNames(nil), r.Category)
	}
}

func TestDNSTwoQueriesOneSocket(t *testing.T) {
	// A resolver library reusing its socket: the flow is named by the
	// question answered, and says so while it waits.
	s := newSim(t, IPProtoUDP, "10.0.0.1:53001", "192.0.2.53:53")
	s.send(ToServer, newDNSMsg(1, dnsRD, 1, 0, 0, 0).question("91.252.30.192.in-addr.arpa", 12).b)
	f := s.send(ToServer, newDNSMsg(1, dnsRD, 1, 0, 0, 0).question("91.252.30.192.in-addr.arpa", 12).b) // a retransmission
	if f.Result.Pending&FieldHostname != 0 {
		t.Error("a retransmitted query made the name pending")
	}
	f = s.send(ToServer, newDNSMsg(2, dnsRD, 1, 0, 0, 0).question("100.1.168.192.in-addr.arpa", 12).b)
	if f.Result.Pending&FieldHostname == 0 || f.Result.Hostname != "91.252.30.192.in-addr.arpa" {
		t.Errorf("after a second query: pending %b, name %q", f.Result.Pending, f.Result.Hostname)
	}
	ans := newDNSMsg(2, dnsQR, 1, 1, 0, 0).question("100.1.168.192.in-addr.arpa", 12)
	ans.ptr(12).rr(12, 1, 60, wire("router.lan"))
	f = s.send(ToClient, ans.b)
	if r := f.Result; r.State != Classified || r.Hostname != "100.1.168.192.in-addr.arpa" {
		t.Errorf("after the answer: %v %q", r.State, r.Hostname)
	}
}

func TestDNSOverTCPResponseSplit(t *testing.T) {
	s := newSim(t, IPProtoTCP, "10.0.0.1:41000", "192.0.2.53:53").handshake()
	q := newDNSMsg(7, dnsRD, 1, 0, 0, 0).question("www.youtube.com", 1)
	// The query's length prefix in a segment of its own, as many stacks
	// send it, then the message.
	s.send(ToServer, q.tcp())
	f := s.send(ToServer, q.b)
	if f.Result.Master != ProtoDNS || f.Result.Hostname != "www.youtube.com" {
		t.Fatalf("query over TCP: %v %q", f.Result.Master, f.Result.Hostname)
	}
	a := &dnsMsg{b: dnsAnswer(7)}
	resp := append(a.tcp(), a.b...)
	f = s.send(ToClient, resp[:30])
	if f.Result.State != Partial {
		t.Fatal("done on half a response")
	}
	f = s.send(ToClient, resp[30:])
	if r := f.Result; r.State != Classified || r.Meta.NumAnswers != 2 || !r.Meta.HasReply {
		t.Errorf("after the response: %v %+v", r.State, r.Meta)
	}
}

func TestMDNSAndLLMNR(t *testing.T) {
	for _, tc := range []struct {
		name, cli, srv string
		msg            []byte
		proto          ProtoID
		host           string
	}{
		// An mDNS browse for a service type (RFC 6763 §4.1) to the
		// multicast group (RFC 6762 §5).
		{"mdns query", "192.168.2.4:5353", "224.0.0.251:5353",
			newDNSMsg(0, 0, 1, 0, 0, 0).question("_raop._tcp.local", 12).b, ProtoMDNS, "_raop._tcp.local"},
		// An mDNS announcement: a response without questions (§8.3).
		{"mdns announcement", "[fe80::1]:5353", "[ff02::fb]:5353",
			newDNSMsg(0, 0x8400, 0, 1, 0, 0).name("Lucas-iMac.local").rr(1, 0x8001, 120, []byte{192, 168, 2, 1}).b, ProtoMDNS, "lucas-imac.local"},
		// An LLMNR query for a single-label name (RFC 4795 §2).
		{"llmnr", "10.0.2.15:50435", "224.0.0.252:5355",
			newDNSMsg(0x4a1b, 0, 1, 0, 0, 0).question("puppet", 1).b, ProtoLLMNR, "puppet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, IPProtoUDP, tc.cli, tc.srv)
			f := s.send(ToServer, tc.msg)
			r := f.Result
			if r.State != Classified || r.Master != tc.proto || r.Hostname != tc.host || r.DPIPackets != 1 {
				t.Errorf("got %v %v %q after %d packets", r.State, r.Master, r.Hostname, r.DPIPackets)
			}
		})
	}
}

func TestDNSRisks(t *testing.T) {
	long := strings.Repeat("a1b2c3d4e5", 6)
	big := newDNSMsg(9, dnsQR, 1, 40, 0, 0).question("many.example", 1)
	for i := range 40 {
		big.ptr(12).rr(1, 1, 30, []byte{198, 51, 100, byte(i)})
	}
	bigEDNS := newDNSMsg(9, dnsQR, 1, 40, 0, 1).question("many.example", 1)
	for i := range 40 {
		bigEDNS.ptr(12).rr(1, 1, 30, []byte{198, 51, 100, byte(i)})
	}
	bigEDNS.name("").rr(41, 1232, 0, nil) // OPT: the server allows 1232 bytes (RFC 6891 §6.1.2)
	for _, tc := range []struct {
		name    string
		query   []byte
		resp    []byte
		want    []RiskID
		notWant []RiskID
	}{
		{"nxdomain", newDNSMsg(1, dnsRD, 1, 0, 0, 0).question("nope.example", 1).b,
			newDNSMsg(1, dnsQR|3, 1, 0, 1, 0).question("nope.example", 1).name("example").rr(6, 1, 60, make([]byte, 22)).b,
			[]RiskID{RiskErrorCodeDetected}, nil},
		{"long first label", newDNSMsg(2, dnsRD, 1, 0, 0, 0).question(long+".exfil.example", 16).b, nil,
			[]RiskID{RiskDNSSuspiciousTraffic}, nil},
		{"long label in an exempt zone", newDNSMsg(2, dnsRD, 1, 0, 0, 0).question(long+".s3.amazonaws.com", 1).b, nil,
			nil, []RiskID{RiskDNSSuspiciousTraffic}},
		{"long label in a reverse lookup", newDNSMsg(2, dnsRD, 1, 0, 0, 0).question(long+".in-addr.arpa", 12).b, nil,
			nil, []RiskID{RiskDNSSuspiciousTraffic}},
		{"tunnel-like subdomains", newDNSMsg(3, dnsRD, 1, 0, 0, 0).question("k9xqz2mv7tb4wp3hn8rjc5yafd6ue1sgl0oi.vb3h7rtx9q2m.t.example", 1).b, nil,
			[]RiskID{RiskDNSSuspiciousTraffic}, nil},
		{"long descriptive name", newDNSMsg(3, dnsRD, 1, 0, 0, 0).question("d3f4ult-4pp-5erv1ce.c0nf1gur4t10n-5t0r4ge.acc0unt-w3st.blob.core.windows.net", 1).b, nil,
			nil, []RiskID{RiskDNSSuspiciousTraffic}},
		{"hex digest lookup", newDNSMsg(3, dnsRD, 1, 0, 0, 0).question("3f786850e387550fdab836ed7e6dc881de23001b.0123456789abcdef.av.example", 16).b, nil,
			nil, []RiskID{RiskDNSSuspiciousTraffic}},
		{"NULL records", newDNSMsg(4, dnsRD, 1, 0, 0, 0).question("vaaaakardli.pirate.sea", 10).b, nil,
			[]RiskID{RiskDNSSuspiciousTraffic}, nil},
		{"invalid characters", newDNSMsg(5, dnsRD, 1, 0, 0, 0).question("www.allyourba\x04\x05\x06arebelongto.cn", 1).b, nil,
			[]RiskID{RiskInvalidCharacters}, nil},
		{"service labels are fine", newDNSMsg(5, dnsRD, 1, 0, 0, 0).question("_ldap._tcp.dc._msdcs.example.com", 33).b, nil,
			nil, []RiskID{RiskInvalidCharacters, RiskDNSSuspiciousTraffic}},
		{"zero ttl", newDNSMsg(6, dnsRD, 1, 0, 0, 0).question("ff.example", 1).b,
			newDNSMsg(6, dnsQR, 1, 1, 0, 0).question("ff.example", 1).ptr(12).rr(1, 1, 0, []byte{1, 2, 3, 4}).b,
			[]RiskID{RiskMinorIssues}, nil},
		{"large answer", newDNSMsg(9, dnsRD, 1, 0, 0, 0).question("many.example", 1).b, big.b,
			[]RiskID{RiskDNSLargePacket}, nil},
		{"large answer within EDNS", newDNSMsg(9, dnsRD, 1, 0, 0, 0).question("many.example", 1).b, bigEDNS.b,
			nil, []RiskID{RiskDNSLargePacket}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, IPProtoUDP, "10.0.0.1:53000", "192.0.2.53:53")
			f := s.send(ToServer, tc.query)
			if tc.resp != nil {
				f = s.send(ToClient, tc.resp)
			}
			r := f.Result
			if r.Master != ProtoDNS {
				t.Fatalf("not DNS: %v", r.Master)
			}
			for _, id := range tc.want {
				if !r.Risks.Has(id) {
					t.Errorf("missing %v (have %v)", riskTable[id].name, r.Risks.AppendNames(nil))
				}
			}
			for _, id := range tc.notWant {
				if r.Risks.Has(id) {
					t.Errorf("unexpected %v", riskTable[id].name)
				}
			}
		})
	}
}

func TestDNSFragmentedResponse(t *testing.T) {
	// The first fragment of a response too big for the path: IPv4 MF set
	// (RFC 791), the DNS message cut where the fragment ends.
	s := newSim(t, IPProtoUDP, "10.0.0.1:53000", "192.0.2.53:53")
	s.send(ToServer, newDNSMsg(1, dnsRD, 1, 0, 0, 0).question("www.youtube.com", 1).b)
	resp := dnsAnswer(1)
	s.buf = buildIP(s.buf[:0], IPProtoUDP, s.srv, s.cli, 0, 0, 0, resp)
	binary.BigEndian.PutUint16(s.buf[2:], uint16(28+40)) // the IP packet ends inside the message
	s.buf = s.buf[:28+40]
	s.buf[6] = 0x20 // more fragments
	if err := s.p.DecodeIP(s.buf); err != nil {
		t.Fatal(err)
	}
	if s.p.Flags&FlagFragment == 0 {
		t.Fatal("not decoded as a fragment")
	}
	s.now += 1e6
	f, _ := s.e.Process(&s.p, s.now)
	r := f.Result
	if !r.Risks.Has(RiskDNSFragmented) || r.Risks.Has(RiskMalformedPacket) {
		t.Errorf("risks %v", r.Risks.AppendNames(nil))
	}
}

func TestNotDNS(t *testing.T) {
	for _, tc := range []struct {
		name, srv string
		payload   []byte
	}{
		{"random bytes", "192.0.2.53:53", []byte("\xde\xad\xbe\xef\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b")},
		{"short", "192.0.2.53:53", []byte{1, 2, 3}},
		// DNSCrypt to a unicast address on the mDNS port: its client magic
		// reads as a header with impossible counts (as nDPI guards it).
		{"dnscrypt on 5353", "127.0.0.2:5353", []byte("\xe3\xc3\xea\xc4\x70\x1b\x47\xd5\xde\xc5\x67\x20\x04\xa9\x0b\xde\x43\x9e\x38\xf5\x93\x13")},
		{"other port", "192.0.2.53:5300", newDNSMsg(1, dnsRD, 1, 0, 0, 0).question("www.example.com", 1).b},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, IPProtoUDP, "10.0.0.1:53000", tc.srv)
			f := s.send(ToServer, tc.payload)
			if m := f.Result.Master; m == ProtoDNS || m == ProtoMDNS || m == ProtoLLMNR {
				t.Errorf("classified %v", m)
			}
		})
	}
}

// TestDNSAnswerNamesLaterFlow follows a name from a DNS answer to the
// connection made to the answered address: that flow shows no name of its
// own (an unknown protocol), yet reports the one it was resolved from.
func TestDNSAnswerNamesLaterFlow(t *testing.T) {
	d := newSim(t, IPProtoUDP, "10.0.0.1:53000", "192.0.2.53:53")
	d.send(ToServer, newDNSMsg(3, dnsRD, 1, 0, 0, 0).question("www.youtube.com", 1).b)
	d.send(ToClient, dnsAnswer(3))

	c := newSim(t, IPProtoTCP, "10.0.0.1:40001", "142.250.180.142:8443")
	c.e = d.e // the same engine: the DNS cache is the engine's
	c.handshake()
	for i := range 3 {
		c.send(ToServer, []byte{0x17, 0x03, 0x03, 0x00, byte(i)})
	}
	d.e.Flush()
	var got *Result
	for i := range d.ended {
		if d.ended[i].Master != ProtoDNS {
			got = &d.ended[i]
		}
	}
	if got == nil {
		t.Fatalf("the TCP flow did not end: %d flows ended", len(d.ended))
	}
	if got.Hostname != "www.youtube.com" {
		t.Errorf("hostname %q, want the name the address was resolved from", got.Hostname)
	}
}
