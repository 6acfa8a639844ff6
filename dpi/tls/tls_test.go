package tls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

func TestClientHelloRFC8448(t *testing.T) {
	msg := unhex(t, rfc8448ClientHello)
	var h ClientHello
	if err := ParseClientHello(body(t, msg, TypeClientHello), false, &h); err != nil {
		t.Fatal(err)
	}
	if h.Version != VersionTLS12 || h.MaxVersion() != VersionTLS13 || !h.OffersOnly13() {
		t.Errorf("versions: legacy %#x max %#x only13 %v", h.Version, h.MaxVersion(), h.OffersOnly13())
	}
	if got := h.Ciphers[:h.NumCiphers]; !equal16(got, []uint16{0x1301, 0x1303, 0x1302}) {
		t.Errorf("ciphers %x", got)
	}
	wantExt := []uint16{0, 0xff01, 10, 35, 51, 43, 13, 45, 28}
	if got := h.Extensions[:h.NumExtensions]; !equal16(got, wantExt) {
		t.Errorf("extensions %x, want %x", got, wantExt)
	}
	if !h.HasSNI || string(h.SNI) != "server" {
		t.Errorf("SNI %q", h.SNI)
	}
	if h.HasALPN {
		t.Error("ALPN reported where there is none")
	}
	if h.NumSigAlgs != 15 || h.SigAlgs[0] != 0x0403 || h.SigAlgs[14] != 0x0202 {
		t.Errorf("sigalgs %x", h.SigAlgs[:h.NumSigAlgs])
	}
	if !equal16(h.Groups[:h.NumGroups], []uint16{0x1d, 0x17, 0x18, 0x19, 0x100, 0x101, 0x102, 0x103, 0x104}) {
		t.Errorf("groups %x", h.Groups[:h.NumGroups])
	}
	// JA4 computed by hand from the RFC bytes (FoxIO's definition).
	if got := string(AppendJA4(nil, &h, JA4TCP, JA4FoxIO)); got != "t13d030900_55b375c5d22e_59cd3dafc54d" {
		t.Errorf("JA4 %s", got)
	}
	ja3 := string(AppendJA3(nil, &h))
	if ja3 != "771,4865-4867-4866,0-65281-10-35-51-43-13-45-28,29-23-24-25-256-257-258-259-260," {
		t.Errorf("JA3 string %s", ja3)
	}
	if got := string(AppendMD5Hex(nil, []byte(ja3))); got != "da4dea34fe6d4ce5f0725df3f2682fa0" {
		t.Errorf("JA3 %s", got)
	}
}

func TestClientHelloRFC9001(t *testing.T) {
	msg := unhex(t, rfc9001ClientHello)
	var h ClientHello
	if err := ParseClientHello(body(t, msg, TypeClientHello), false, &h); err != nil {
		t.Fatal(err)
	}
	if string(h.SNI) != "example.com" || !h.QUICParams {
		t.Errorf("SNI %q quic params %v", h.SNI, h.QUICParams)
	}
	it := h.ALPNProtocols()
	if p, ok := it.Next(); !ok || string(p) != "alpn" {
		t.Errorf("ALPN %q", p)
	}
	for _, c := range []struct {
		style JA4Style
		want  string
	}{
		{JA4FoxIO, "q13d0211an_62ed6f6ca7ad_4d634acda6c0"},
		// nDPI's reading drops the joined list's last character: "alp".
		{JA4NDPI, "q13d0211al_62ed6f6ca7ad_4d634acda6c0"},
	} {
		if got := string(AppendJA4(nil, &h, JA4QUIC, c.style)); got != c.want {
			t.Errorf("JA4 style %d: %s, want %s", c.style, got, c.want)
		}
	}
}

func TestServerHelloRFC8448(t *testing.T) {
	var s ServerHello
	if err := ParseServerHello(body(t, unhex(t, rfc8448ServerHello), TypeServerHello), &s); err != nil {
		t.Fatal(err)
	}
	if s.Version != VersionTLS12 || s.Selected != VersionTLS13 || s.Cipher != 0x1301 || s.HelloRetryRequest {
		t.Errorf("%+v", s)
	}
	if !equal16(s.Extensions[:s.NumExtensions], []uint16{51, 43}) {
		t.Errorf("extensions %x", s.Extensions[:s.NumExtensions])
	}
	if got := string(AppendJA3S(nil, &s)); got != "771,4865,51-43" {
		t.Errorf("JA3S %s", got)
	}
}

func TestHelloRetryRequest(t *testing.T) {
	b := unhex(t, rfc8448ServerHello)[4:]
	copy(b[2:34], helloRetryRandom[:])
	var s ServerHello
	if err := ParseServerHello(b, &s); err != nil || !s.HelloRetryRequest {
		t.Errorf("HRR not recognised: %v %+v", err, s.HelloRetryRequest)
	}
}

func TestCertificateRFC8448(t *testing.T) {
	msg := unhex(t, rfc8448Certificate)
	der, err := LeafCertificate(body(t, msg, TypeCertificate), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(der) != 0x1b0 {
		t.Fatalf("leaf %d bytes", len(der))
	}
	var c Certificate
	if err := ParseCertificate(der, &c); err != nil {
		t.Fatal(err)
	}
	if string(c.Issuer()) != "CN=rsa" || string(c.Subject()) != "CN=rsa" || !c.SelfIssued() {
		t.Errorf("issuer %q subject %q", c.Issuer(), c.Subject())
	}
	nb := time.Date(2016, 7, 30, 1, 23, 59, 0, time.UTC).Unix()
	na := time.Date(2026, 7, 30, 1, 23, 59, 0, time.UTC).Unix()
	if !c.HasValidity || c.NotBefore != nb || c.NotAfter != na {
		t.Errorf("validity %d-%d, want %d-%d", c.NotBefore, c.NotAfter, nb, na)
	}
	if c.SHA1 != sha1.Sum(der) || c.HasSAN {
		t.Errorf("sha1 or SAN wrong")
	}
	// A prefix that stops inside the leaf asks for more bytes.
	if _, err := LeafCertificate(body(t, msg, TypeCertificate)[:100], true); err != ErrShort {
		t.Errorf("short leaf: %v", err)
	}
}

// TestCertificateGenerated checks names, SAN matching and time parsing on
// certificates made with crypto/x509.
func TestCertificateGenerated(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	nb := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	na := time.Date(2051, 6, 7, 8, 9, 10, 0, time.UTC) // GeneralizedTime (≥ 2050)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject: pkix.Name{Country: []string{"IT"}, Province: []string{"Tuscany"}, Locality: []string{"Pisa"},
			Organization: []string{"ntop"}, OrganizationalUnit: []string{"Dev"}, CommonName: "www.example.org",
			SerialNumber: "ignored"},
		Issuer:      pkix.Name{CommonName: "Test CA"},
		NotBefore:   nb,
		NotAfter:    na,
		DNSNames:    append(manyNames(40), "www.example.org", "*.cdn.example.net"),
		IPAddresses: []net.IP{net.ParseIP("192.0.2.7")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var c Certificate
	if err := ParseCertificate(der, &c); err != nil {
		t.Fatal(err)
	}
	// Self-signed with tmpl as parent: the issuer is the subject.
	want := "C=IT, ST=Tuscany, L=Pisa, O=ntop, OU=Dev, CN=www.example.org"
	if string(c.Subject()) != want || string(c.Issuer()) != want {
		t.Errorf("subject %q issuer %q", c.Subject(), c.Issuer())
	}
	if string(c.SubjectCN) != "www.example.org" || c.SubjectAttrs != 7 {
		t.Errorf("CN %q attrs %d", c.SubjectCN, c.SubjectAttrs)
	}
	if c.NotBefore != nb.Unix() || c.NotAfter != na.Unix() {
		t.Errorf("validity %d %d", c.NotBefore, c.NotAfter)
	}
	// 43 names: the first MaxNames are kept, all are matched.
	if !c.HasSAN || c.NumNames != MaxNames || !c.Truncated {
		t.Fatalf("SAN %v %d", c.HasSAN, c.NumNames)
	}
	for host, ok := range map[string]bool{
		"www.example.org": true, "WWW.Example.ORG": true, "a.cdn.example.net": true,
		"x.y.cdn.example.net": true, "cdn.example.net": false, "example.org": false,
		"192.0.2.7": true, "192.0.2.8": false,
	} {
		if c.MatchesHost([]byte(host)) != ok {
			t.Errorf("MatchesHost(%q) = %v", host, !ok)
		}
	}
}

func manyNames(n int) []string {
	var out []string
	for i := range n {
		out = append(out, string(rune('a'+i%26))+string(rune('a'+i/26))+".filler.example")
	}
	return out
}

func TestRecordHeaders(t *testing.T) {
	if r, ok := ParseRecord([]byte{22, 3, 1, 0x02, 0x00}); !ok || r.Type != RecordHandshake || r.Version != VersionTLS10 || r.Length != 512 {
		t.Errorf("%+v %v", r, ok)
	}
	for _, b := range [][]byte{{22, 3, 1, 0}, {25, 3, 1, 0, 1}, {22, 2, 0, 0, 1}, {22, 3, 9, 0, 1}, {23, 3, 3, 0xff, 0xff}} {
		if _, ok := ParseRecord(b); ok {
			t.Errorf("accepted %x", b)
		}
	}
	d := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 5, 0, 50}
	if r, ok := ParseDTLSRecord(d); !ok || r.Version != VersionDTLS12 || r.Seq != 5 || r.Length != 50 {
		t.Errorf("%+v %v", r, ok)
	}
	h, ok := ParseDTLSHandshake([]byte{1, 0, 1, 0, 0, 0, 0, 0, 0x80, 0, 0, 0x80})
	if !ok || h.Length != 256 || h.FragOffset != 128 || h.FragLength != 128 {
		t.Errorf("%+v %v", h, ok)
	}
	if _, ok := ParseDTLSHandshake([]byte{1, 0, 1, 0, 0, 0, 0, 0, 0x81, 0, 0, 0x80}); ok {
		t.Error("fragment past the message accepted")
	}
}

func TestGREASE(t *testing.T) {
	n := 0
	for v := 0; v < 1<<16; v++ {
		if IsGREASE(uint16(v)) {
			n++
			if v&0xff != v>>8 || v&0xf != 0xa {
				t.Errorf("%#x", v)
			}
		}
	}
	if n != 16 {
		t.Errorf("%d GREASE values, want 16", n)
	}
}

func TestIPv4Literal(t *testing.T) {
	for s, want := range map[string]bool{"1.2.3.4": true, "255.255.255.255": true, "256.1.1.1": false,
		"1.2.3": false, "1.2.3.4.5": false, "a.b.c.d": false, "1..2.3": false, "": false, "1234.1.1.1": false} {
		if IsIPv4Literal([]byte(s)) != want {
			t.Errorf("%q", s)
		}
	}
}

func TestTruncatedInputsFail(t *testing.T) {
	ch := unhex(t, rfc8448ClientHello)[4:]
	var h ClientHello
	for i := 0; i < 45; i++ { // 45 bytes is a complete hello without extensions
		if err := ParseClientHello(ch[:i], false, &h); err == nil {
			t.Errorf("prefix %d accepted", i)
		}
	}
	sh := unhex(t, rfc8448ServerHello)[4:]
	var s ServerHello
	for i := 0; i < 38; i++ {
		if err := ParseServerHello(sh[:i], &s); err == nil {
			t.Errorf("server prefix %d accepted", i)
		}
	}
}

func TestALPNList(t *testing.T) {
	list := []byte{2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'}
	if got := string(AppendALPNList(nil, list, ',', 64)); got != "h2,http/1.1" {
		t.Errorf("%q", got)
	}
	if got := string(AppendALPNList(nil, list, ',', 5)); got != "h2" {
		t.Errorf("bounded %q", got)
	}
	var h ClientHello
	h.ALPN, h.HasALPN = list, true
	a, b := ja4ALPN(&h, JA4NDPI)
	c, d := ja4ALPN(&h, JA4FoxIO)
	if string([]byte{a, b, c, d}) != "h2h2" {
		t.Errorf("%c%c %c%c", a, b, c, d)
	}
	h.ALPN = list[3:] // http/1.1 alone
	a, b = ja4ALPN(&h, JA4NDPI)
	c, d = ja4ALPN(&h, JA4FoxIO)
	if string([]byte{a, b, c, d}) != "hth1" {
		t.Errorf("%c%c %c%c", a, b, c, d)
	}
	h.ALPN = []byte{2, 0xff, 0x01}
	if c, d = ja4ALPN(&h, JA4FoxIO); c != 'f' || d != '1' {
		t.Errorf("non-alnum ALPN: %c%c", c, d)
	}
}

func TestCipherStrength(t *testing.T) {
	if CipherStrength(0x1301) != CipherSafe || CipherStrength(0x002f) != CipherWeak || CipherStrength(0x0005) != CipherInsecure {
		t.Error("strength table")
	}
}

func TestParsersDoNotAllocate(t *testing.T) {
	ch := unhex(t, rfc8448ClientHello)[4:]
	sh := unhex(t, rfc8448ServerHello)[4:]
	cm := unhex(t, rfc8448Certificate)[4:]
	var h ClientHello
	var s ServerHello
	var c Certificate
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		_ = ParseClientHello(ch, false, &h)
		buf = AppendJA4(buf[:0], &h, JA4TCP, JA4NDPI)
		buf = AppendJA3(buf[:0], &h)
		buf = AppendMD5Hex(buf[:0], buf)
		_ = ParseServerHello(sh, &s)
		buf = AppendJA3S(buf[:0], &s)
		der, _ := LeafCertificate(cm, true)
		_ = ParseCertificate(der, &c)
		_ = c.MatchesHost([]byte("rsa"))
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run", allocs)
	}
}

func BenchmarkClientHelloJA4(b *testing.B) {
	ch := unhex(b, rfc8448ClientHello)[4:]
	var h ClientHello
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		_ = ParseClientHello(ch, false, &h)
		buf = AppendJA4(buf[:0], &h, JA4TCP, JA4NDPI)
	}
}

func BenchmarkCertificate(b *testing.B) {
	der, _ := LeafCertificate(unhex(b, rfc8448Certificate)[4:], true)
	var c Certificate
	b.ReportAllocs()
	for b.Loop() {
		_ = ParseCertificate(der, &c)
	}
}

func equal16(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
