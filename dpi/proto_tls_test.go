package dpi

import (
	"crypto/sha1"
	"crypto/x509/pkix"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// simTime is the sim's clock (its start, 2023-11-14T22:13:20Z).
var simTime = time.Unix(1_700_000_000, 0)

// TestTLS13ClientHelloSplitOverSegments feeds a ClientHello (RFC 8446
// §4.1.2) cut into three TCP segments, then the ServerHello.
func TestTLS13ClientHelloSplitOverSegments(t *testing.T) {
	spec := chrome13("www.example.com")
	spec.padding = 1500 // a large hello, as with post-quantum key shares
	rec := tlsRecords(22, 0x0301, clientHelloMsg(spec), 1<<14)
	s := newSim(t, IPProtoTCP, "10.0.0.1:40000", "192.0.2.9:8443")
	s.handshake()
	third := len(rec) / 3
	f := s.send(ToServer, rec[:third])
	if f.Result.Master != 0 || f.Result.State != Inspecting {
		t.Fatalf("classified on a partial record: %+v", f.Result)
	}
	s.send(ToServer, rec[third:2*third])
	f = s.send(ToServer, rec[2*third:])
	r := &f.Result
	if r.Master != ProtoTLS || r.State != Partial || r.Hostname != "www.example.com" {
		t.Fatalf("after the ClientHello: %+v", r)
	}
	if r.JA4 != "t13d0709h2_04ca88ad2b9b_9da2413e2ea0" || r.JA3 != "96e44f74945ac0a8ce27e63d2855a471" {
		t.Errorf("JA4 %s JA3 %s", r.JA4, r.JA3)
	}
	if r.ALPN != "h2,http/1.1" || r.TLSVersion != 0x0303 {
		t.Errorf("ALPN %q version %#x", r.ALPN, r.TLSVersion)
	}
	if r.Pending&FieldRisks == 0 {
		t.Errorf("pending %b: the server's flight may still add risks", r.Pending)
	}
	f = s.send(ToClient, tlsRecords(22, 0x0303, serverHelloMsg(0x0303, 0x0304, 0x1302, "h2"), 1<<14))
	r = &f.Result
	if r.State != Classified || r.TLSVersion != 0x0304 || r.Cipher != 0x1302 {
		t.Fatalf("after the ServerHello: %+v", r)
	}
	if r.Meta == nil || r.Meta.ServerALPN != "h2" || len(r.Meta.JA3S) != 32 {
		t.Errorf("meta %+v", r.Meta)
	}
	if r.Risks != RiskSet(0).With(RiskKnownProtoNonStdPort) { // TLS on 8443, not 443
		t.Errorf("risks %v", r.Risks.AppendNames(nil))
	}
	if r.DPIPackets != 7 {
		t.Errorf("%d packets inspected, want 7 (3 handshake, 3 hello segments, 1 answer)", r.DPIPackets)
	}
}

// TestTLS12CertificateRisks: a TLS 1.2 server sends ServerHello and a
// certificate chain spread over records and segments; the leaf is expired,
// self-signed, for another name, and the cipher is static RSA.
func TestTLS12CertificateRisks(t *testing.T) {
	leaf := makeCert(t, certSpec{
		issuer:    pkix.Name{Country: []string{"IT"}, Organization: []string{"Acme"}, CommonName: "acme.test"},
		subject:   pkix.Name{Country: []string{"IT"}, Organization: []string{"Acme"}, CommonName: "acme.test"},
		dns:       []string{"acme.test", "*.acme.test"},
		notBefore: simTime.AddDate(-2, 0, 0),
		notAfter:  simTime.AddDate(0, 0, -1),
	})
	other := makeCert(t, certSpec{subject: pkix.Name{CommonName: "intermediate"}, notBefore: simTime, notAfter: simTime})
	spec := chSpec{version: 0x0303, ciphers: []uint16{0xc02f, 0x002f}, sni: "shop.example.org"}
	s := newSim(t, IPProtoTCP, "10.0.0.1:40001", "192.0.2.9:443")
	s.handshake()
	s.send(ToServer, tlsRecords(22, 0x0301, clientHelloMsg(spec), 1<<14))
	flight := serverHelloMsg(0x0303, 0x0303, 0x002f, "")
	flight = append(flight, handshakeMsg(11, certificateBody(leaf, other), false)...)
	flight = append(flight, handshakeMsg(14, nil, false)...)
	stream := tlsRecords(22, 0x0303, flight, 300) // the certificate spans records
	var f *Flow
	for len(stream) > 0 {
		n := min(len(stream), 500)
		f = s.send(ToClient, stream[:n])
		stream = stream[n:]
		if f.Result.State == Classified {
			break
		}
	}
	r := &f.Result
	if r.State != Classified || r.Meta == nil || !r.Meta.HasCert {
		t.Fatalf("certificate not read: %+v", r)
	}
	m := r.Meta
	if m.CertIssuer != "C=IT, O=Acme, CN=acme.test" || m.CertSubject != m.CertIssuer {
		t.Errorf("issuer %q subject %q", m.CertIssuer, m.CertSubject)
	}
	if m.CertSHA1 != sha1.Sum(leaf) || m.CertNotAfter != simTime.AddDate(0, 0, -1).Unix() {
		t.Errorf("sha1 %x validity %d", m.CertSHA1, m.CertNotAfter)
	}
	// Issued after September 2020 for two years: also too long.
	for _, want := range []RiskID{RiskTLSCertExpired, RiskTLSSelfSigned, RiskTLSCertMismatch, RiskTLSWeakCipher,
		RiskTLSNotCarryingHTTPS, RiskTLSCertValidityTooLong} {
		if !r.Risks.Has(want) {
			t.Errorf("missing risk %s (have %v)", want, r.Risks.AppendNames(nil))
		}
	}
	if r.Risks.Has(RiskTLSCertAboutToExpire) || r.Risks.Has(RiskTLSObsoleteVersion) {
		t.Errorf("unexpected risks %v", r.Risks.AppendNames(nil))
	}
}

func TestTLSCertificateValidityAndSAN(t *testing.T) {
	leaf := makeCert(t, certSpec{
		issuer:    pkix.Name{CommonName: "Some CA"},
		subject:   pkix.Name{CommonName: "www.example.org"},
		dns:       []string{"*.example.org"},
		notBefore: simTime.AddDate(-1, 0, 0),
		notAfter:  simTime.AddDate(0, 0, 10), // 375 days, ends in 10
	})
	r := tls12Flow(t, "www.example.org", leaf, 0xc02f)
	if !r.Risks.Has(RiskTLSCertAboutToExpire) || r.Risks.Has(RiskTLSCertExpired) ||
		r.Risks.Has(RiskTLSCertMismatch) || r.Risks.Has(RiskTLSSelfSigned) || r.Risks.Has(RiskTLSWeakCipher) {
		t.Errorf("risks %v", r.Risks.AppendNames(nil))
	}
	long := makeCert(t, certSpec{issuer: pkix.Name{CommonName: "CA"}, subject: pkix.Name{CommonName: "x"},
		notBefore: simTime.AddDate(0, -1, 0), notAfter: simTime.AddDate(2, 0, 0)})
	if r := tls12Flow(t, "x.example", long, 0xc02f); !r.Risks.Has(RiskTLSCertValidityTooLong) {
		t.Errorf("validity too long not flagged: %v", r.Risks.AppendNames(nil))
	}
}

// tls12Flow runs ClientHello, ServerHello+Certificate in one segment.
func tls12Flow(t *testing.T, sni string, leaf []byte, cipher uint16) Result {
	t.Helper()
	s := newSim(t, IPProtoTCP, "10.0.0.1:40002", "192.0.2.9:443")
	s.handshake()
	s.send(ToServer, tlsRecords(22, 0x0301, clientHelloMsg(chSpec{version: 0x0303, ciphers: []uint16{cipher}, sni: sni, alpn: []string{"h2"}}), 1<<14))
	flight := append(serverHelloMsg(0x0303, 0x0303, cipher, "h2"), handshakeMsg(11, certificateBody(leaf), false)...)
	f := s.send(ToClient, tlsRecords(22, 0x0303, flight, 1<<14))
	if f.Result.State != Classified {
		t.Fatalf("not done after the certificate: %+v", f.Result)
	}
	return f.Result
}

// TestTorShapes: Tor's made-up SNI and link certificate.
func TestTorShapes(t *testing.T) {
	// A DGA-looking SNI of Tor's alphabet and no ALPN: Tor at once.
	s := newSim(t, IPProtoTCP, "10.0.0.1:40003", "192.0.2.9:443")
	s.handshake()
	tor := chSpec{version: 0x0301, ciphers: []uint16{0xc013, 0x0039}, sni: "www.q4cyamnc6mtokjurvdclt.com"}
	f := s.send(ToServer, tlsRecords(22, 0x0301, clientHelloMsg(tor), 1<<14))
	if f.Result.App != ProtoTor || !f.Result.Risks.Has(RiskSuspiciousDGADomain) {
		t.Errorf("Tor SNI: %s %v", f.Result.AppName(), f.Result.Risks.AppendNames(nil))
	}
	// A short SNI is not enough; the link certificate tells.
	cert := makeCert(t, certSpec{issuer: pkix.Name{CommonName: "www.xkgk7fdx362yyyxib.com"},
		subject: pkix.Name{CommonName: "www.g6ghvisevf3ibuu5.net"}, notBefore: simTime, notAfter: simTime.AddDate(0, 1, 0)})
	tor.sni = "www.t3i3ru.com"
	s = newSim(t, IPProtoTCP, "10.0.0.1:40004", "192.0.2.9:443")
	s.handshake()
	f = s.send(ToServer, tlsRecords(22, 0x0301, clientHelloMsg(tor), 1<<14))
	if f.Result.App != 0 || f.Result.Pending&FieldApp == 0 {
		t.Fatalf("short SNI: %s pending %b", f.Result.AppName(), f.Result.Pending)
	}
	flight := append(serverHelloMsg(0x0301, 0x0301, 0xc013, ""), handshakeMsg(11, certificateBody(cert), false)...)
	f = s.send(ToClient, tlsRecords(22, 0x0301, flight, 1<<14))
	if f.Result.AppName() != "TLS.Tor" || f.Result.Category != CategoryVPN {
		t.Errorf("Tor certificate: %s %s", f.Result.AppName(), f.Result.Category)
	}
	// An ordinary certificate of a www.<random>.com site is not Tor.
	plain := makeCert(t, certSpec{issuer: pkix.Name{Organization: []string{"Let's Encrypt"}, CommonName: "R3"},
		subject: pkix.Name{CommonName: "www.t3i3ru.com"}, notBefore: simTime, notAfter: simTime.AddDate(0, 1, 0)})
	s = newSim(t, IPProtoTCP, "10.0.0.1:40005", "192.0.2.9:443")
	s.handshake()
	s.send(ToServer, tlsRecords(22, 0x0301, clientHelloMsg(tor), 1<<14))
	flight = append(serverHelloMsg(0x0301, 0x0301, 0xc013, ""), handshakeMsg(11, certificateBody(plain), false)...)
	if f = s.send(ToClient, tlsRecords(22, 0x0301, flight, 1<<14)); f.Result.App != 0 {
		t.Errorf("ordinary certificate named %s", f.Result.AppName())
	}
}

// TestTorRelayList: an operator's relay list in catalog syntax names TLS
// flows to a relay Tor, and unclassified flows to it too.
func TestTorRelayList(t *testing.T) {
	b := NewCatalogBuilder(false)
	if err := b.AddRules("relays.txt", strings.NewReader("# Tor relays\nip:192.0.2.77@Tor\nipv6:2001:db8::77@Tor\n")); err != nil {
		t.Fatal(err)
	}
	cat := b.Build()
	for _, srv := range []string{"192.0.2.77:9001", "[2001:db8::77]:443"} {
		s := newSim(t, IPProtoTCP, "10.0.0.1:40006", srv)
		if netip.MustParseAddrPort(srv).Addr().Is6() {
			s = newSim(t, IPProtoTCP, "[2001:db8::1]:40006", srv)
		}
		s.e.SetCatalog(cat)
		s.handshake()
		f := s.send(ToServer, tlsRecords(22, 0x0301, clientHelloMsg(chrome13("")), 1<<14))
		if f.Result.AppName() != "TLS.Tor" {
			t.Errorf("%s: TLS to a relay is %s", srv, f.Result.AppName())
		}
	}
	s := newSim(t, IPProtoTCP, "10.0.0.1:40007", "192.0.2.77:9001")
	s.e.SetCatalog(cat)
	s.handshake()
	var f *Flow
	for i := 0; i < 10; i++ {
		f = s.send(ToServer, []byte{0x99, 0x12, byte(i), 0x44, 0x55, 0x66})
	}
	if f.Result.AppName() != "Tor" || !f.Result.Guessed {
		t.Errorf("unknown traffic to a relay: %s %+v", f.Result.AppName(), f.Result)
	}
}

func TestTLSMidStreamAndAlert(t *testing.T) {
	// Application data records, no handshake seen (no SYN either).
	s := newSim(t, IPProtoTCP, "10.0.0.1:40008", "192.0.2.9:443")
	rec := tlsRecords(23, 0x0303, make([]byte, 700), 1<<14)
	f := s.send(ToServer, rec)
	if f.Result.Master != ProtoTLS || f.Result.State != Classified {
		t.Errorf("mid-stream: %+v", f.Result)
	}
	// A fatal alert answering the hello.
	s = newSim(t, IPProtoTCP, "10.0.0.1:40009", "192.0.2.9:443")
	s.handshake()
	s.send(ToServer, tlsRecords(22, 0x0301, clientHelloMsg(chSpec{version: 0x0301, ciphers: []uint16{0x002f}, sni: "old.example"}), 1<<14))
	f = s.send(ToClient, []byte{21, 3, 1, 0, 2, 2, 40})
	if !f.Result.Risks.Has(RiskTLSFatalAlert) || !f.Result.Risks.Has(RiskTLSObsoleteVersion) {
		t.Errorf("alert: %v", f.Result.Risks.AppendNames(nil))
	}
	// Not TLS at all.
	s = newSim(t, IPProtoTCP, "10.0.0.1:40010", "192.0.2.9:443")
	s.handshake()
	f = s.send(ToServer, []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"))
	if f.s != nil && f.s.excluded[0]&1 == 0 {
		t.Error("TLS did not exclude an HTTP request")
	}
}

func TestTLSMissingSNIRisks(t *testing.T) {
	s := newSim(t, IPProtoTCP, "10.0.0.1:40011", "192.0.2.9:443")
	s.handshake()
	spec := chrome13("")
	spec.alpn = []string{"h2", "weird/9"}
	f := s.send(ToServer, tlsRecords(22, 0x0301, clientHelloMsg(spec), 1<<14))
	r := f.Result
	for _, want := range []RiskID{RiskTLSMissingSNI, RiskTLSALPNSNIMismatch, RiskTLSUncommonALPN} {
		if !r.Risks.Has(want) {
			t.Errorf("missing %s: %v", want, r.Risks.AppendNames(nil))
		}
	}
	if !strings.HasPrefix(r.JA4, "t13d") {
		t.Errorf("JA4 %s: nDPI's reading writes d without SNI", r.JA4)
	}
	// A numeric SNI, an unofficial extension, and SMTPS by port.
	s = newSim(t, IPProtoTCP, "10.0.0.1:40012", "192.0.2.9:465")
	s.handshake()
	spec = chrome13("192.0.2.9")
	spec.extra = append(spec.extra, tlsExt{0xff03, nil})
	f = s.send(ToServer, tlsRecords(22, 0x0301, clientHelloMsg(spec), 1<<14))
	r = f.Result
	if r.Master != ProtoSMTPS || !r.Risks.Has(RiskNumericIPHost) || !r.Risks.Has(RiskTLSSuspiciousExtension) || !strings.HasPrefix(r.JA4, "t13i") {
		t.Errorf("%s %v %s", r.AppName(), r.Risks.AppendNames(nil), r.JA4)
	}
}

// TestTLSServerSideOnly: only the server's half of the handshake is seen.
func TestTLSServerSideOnly(t *testing.T) {
	s := newSim(t, IPProtoTCP, "10.0.0.1:40013", "192.0.2.9:443")
	s.tcp(ToClient, TCPSyn|TCPAck, nil)
	flight := append(serverHelloMsg(0x0303, 0x0303, 0xc02b, "http/1.1"), handshakeMsg(14, nil, false)...)
	f := s.send(ToClient, tlsRecords(22, 0x0303, flight, 1<<14))
	r := f.Result
	if r.Master != ProtoTLS || r.State != Classified || r.Cipher != 0xc02b || r.Meta.ServerALPN != "http/1.1" {
		t.Errorf("%+v", r)
	}
}

// TestTLSSteadyStateAllocs replays the same TLS 1.2 connection (with a
// certificate) through one engine and counts allocations per connection.
func TestTLSSteadyStateAllocs(t *testing.T) {
	leaf := makeCert(t, certSpec{issuer: pkix.Name{CommonName: "CA"}, subject: pkix.Name{CommonName: "www.example.org"},
		dns: []string{"www.example.org"}, notBefore: simTime.AddDate(0, -1, 0), notAfter: simTime.AddDate(0, 2, 0)})
	pkts := recordTLSConnection(t, leaf)
	e := NewEngine(Config{})
	var p Packet
	now := simTime.UnixNano()
	run := func() {
		for _, b := range pkts {
			if err := p.DecodeIP(b); err != nil {
				t.Fatal(err)
			}
			now += 1e6
			e.Process(&p, now)
		}
	}
	run()
	var res Result
	e.Each(func(f *Flow) { res = f.Result })
	if res.Hostname != "www.example.org" || res.Meta == nil || !res.Meta.HasCert || res.State != Classified {
		t.Fatalf("connection not read: %+v", res)
	}
	if a := testing.AllocsPerRun(200, run); a != 0 {
		t.Errorf("%v allocations per TLS connection in the steady state", a)
	}
}

// recordTLSConnection builds the packets of a TLS 1.2 connection ending
// with a RST, so that replaying them starts a new connection each time.
func recordTLSConnection(t *testing.T, leaf []byte) [][]byte {
	cli, srv := netip.MustParseAddrPort("10.0.0.1:40100"), netip.MustParseAddrPort("192.0.2.9:443")
	seq := [2]uint32{1000, 5000}
	var out [][]byte
	add := func(d Dir, flags uint8, payload []byte) {
		src, dst := cli, srv
		if d == ToClient {
			src, dst = srv, cli
		}
		out = append(out, buildIP(nil, IPProtoTCP, src, dst, flags, seq[d], seq[1-d], payload))
		n := uint32(len(payload))
		if flags&(TCPSyn|TCPFin) != 0 {
			n++
		}
		seq[d] += n
	}
	add(ToServer, TCPSyn, nil)
	add(ToClient, TCPSyn|TCPAck, nil)
	add(ToServer, TCPAck, nil)
	add(ToServer, TCPPsh|TCPAck, tlsRecords(22, 0x0301, clientHelloMsg(chrome13("www.example.org")), 1<<14))
	flight := append(serverHelloMsg(0x0303, 0x0303, 0xc02f, "h2"), handshakeMsg(11, certificateBody(leaf), false)...)
	stream := tlsRecords(22, 0x0303, flight, 1<<14)
	add(ToClient, TCPAck, stream[:len(stream)/2])
	add(ToClient, TCPPsh|TCPAck, stream[len(stream)/2:])
	add(ToServer, TCPRst, nil)
	return out
}

func BenchmarkTLSConnection(b *testing.B) {
	leaf := makeCert(b, certSpec{issuer: pkix.Name{CommonName: "CA"}, subject: pkix.Name{CommonName: "www.example.org"},
		dns: []string{"www.example.org"}, notBefore: simTime.AddDate(0, -1, 0), notAfter: simTime.AddDate(0, 2, 0)})
	pkts := recordTLSConnection(&testing.T{}, leaf)
	e := NewEngine(Config{})
	var p Packet
	now := simTime.UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		for _, pk := range pkts {
			_ = p.DecodeIP(pk)
			now += 1e6
			e.Process(&p, now)
		}
	}
	b.ReportMetric(float64(len(pkts)), "pkts/op")
}
