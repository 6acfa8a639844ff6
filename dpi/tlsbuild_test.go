package dpi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"testing"
	"time"
)

// Builders of TLS and DTLS handshake bytes for the dissector tests,
// following the structures of RFC 8446 §4 (TLS 1.3), RFC 5246 §7.4 (TLS
// 1.2) and RFC 6347 §4.2 (DTLS).

type tlsExt struct {
	typ  uint16
	data []byte
}

// chSpec describes a ClientHello to build.
type chSpec struct {
	version  uint16
	ciphers  []uint16
	sni      string
	alpn     []string
	versions []uint16 // supported_versions
	sigalgs  []uint16
	groups   []uint16
	extra    []tlsExt
	dtls     bool
	padding  int // bytes of padding extension (0: none)
}

func put16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func put24(b []byte, v int) []byte    { return append(b, byte(v>>16), byte(v>>8), byte(v)) }

func vec16(b, data []byte) []byte { return append(put16(b, uint16(len(data))), data...) }

// clientHelloMsg builds a ClientHello handshake message (header included;
// DTLS uses the 12-byte header with message_seq 0, unfragmented).
func clientHelloMsg(s chSpec) []byte {
	var body []byte
	body = put16(body, s.version)
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	if s.dtls {
		body = append(body, 0) // cookie
	}
	var cs []byte
	for _, c := range s.ciphers {
		cs = put16(cs, c)
	}
	body = vec16(body, cs)
	body = append(body, 1, 0) // null compression
	var exts []byte
	add := func(typ uint16, data []byte) { exts = vec16(put16(exts, typ), data) }
	if s.sni != "" {
		var name []byte
		name = append(name, 0)
		name = vec16(name, []byte(s.sni))
		add(0, vec16(nil, name))
	}
	if len(s.groups) > 0 {
		var g []byte
		for _, v := range s.groups {
			g = put16(g, v)
		}
		add(10, vec16(nil, g))
	}
	if len(s.sigalgs) > 0 {
		var g []byte
		for _, v := range s.sigalgs {
			g = put16(g, v)
		}
		add(13, vec16(nil, g))
	}
	if len(s.alpn) > 0 {
		var l []byte
		for _, p := range s.alpn {
			l = append(append(l, byte(len(p))), p...)
		}
		add(16, vec16(nil, l))
	}
	if len(s.versions) > 0 {
		var l []byte
		for _, v := range s.versions {
			l = put16(l, v)
		}
		add(43, append([]byte{byte(len(l))}, l...))
	}
	for _, e := range s.extra {
		add(e.typ, e.data)
	}
	if s.padding > 0 {
		add(21, make([]byte, s.padding))
	}
	body = vec16(body, exts)
	return handshakeMsg(1, body, s.dtls)
}

func handshakeMsg(typ byte, body []byte, dtls bool) []byte {
	m := put24([]byte{typ}, len(body))
	if dtls {
		m = put16(m, 0)         // message_seq
		m = put24(m, 0)         // fragment_offset
		m = put24(m, len(body)) // fragment_length
	}
	return append(m, body...)
}

// serverHelloMsg builds a ServerHello; selected ≥ TLS 1.3 adds
// supported_versions.
func serverHelloMsg(version, selected, cipher uint16, alpn string) []byte {
	var body []byte
	body = put16(body, version)
	body = append(body, make([]byte, 32)...)
	body = append(body, 0)
	body = put16(body, cipher)
	body = append(body, 0)
	var exts []byte
	if selected != version {
		exts = vec16(put16(exts, 43), put16(nil, selected))
	}
	if alpn != "" {
		exts = vec16(put16(exts, 16), vec16(nil, append([]byte{byte(len(alpn))}, alpn...)))
	}
	exts = vec16(put16(exts, 0xff01), []byte{0})
	body = vec16(body, exts)
	return handshakeMsg(2, body, false)
}

// certificateBody builds a TLS 1.2 Certificate message body.
func certificateBody(ders ...[]byte) []byte {
	var list []byte
	for _, d := range ders {
		list = append(put24(list, len(d)), d...)
	}
	return append(put24(nil, len(list)), list...)
}

// tlsRecords splits data into records of at most max bytes.
func tlsRecords(typ byte, version uint16, data []byte, max int) []byte {
	var out []byte
	for len(data) > 0 {
		n := min(len(data), max)
		out = append(out, typ)
		out = put16(out, version)
		out = vec16(out, data[:n])
		data = data[n:]
	}
	return out
}

// dtlsRecord wraps a handshake fragment in a DTLSPlaintext record.
func dtlsRecord(typ byte, version uint16, seq uint64, body []byte) []byte {
	r := []byte{typ}
	r = put16(r, version)
	r = put16(r, 0) // epoch
	r = append(r, byte(seq>>40), byte(seq>>32), byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
	return vec16(r, body)
}

// certSpec describes a certificate to generate.
type certSpec struct {
	issuer, subject pkix.Name
	dns             []string
	notBefore       time.Time
	notAfter        time.Time
}

// makeCert returns the DER of a certificate signed by a throw-away key.
func makeCert(t testing.TB, s certSpec) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: s.subject, NotBefore: s.notBefore,
		NotAfter: s.notAfter, DNSNames: s.dns}
	parent := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: s.issuer}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// chrome13 is a TLS 1.3 ClientHello shaped like a browser's.
func chrome13(sni string) chSpec {
	return chSpec{
		version:  0x0303,
		ciphers:  []uint16{0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030},
		sni:      sni,
		alpn:     []string{"h2", "http/1.1"},
		versions: []uint16{0x2a2a, 0x0304, 0x0303},
		sigalgs:  []uint16{0x0403, 0x0804, 0x0401, 0x0503},
		groups:   []uint16{0x1a1a, 0x001d, 0x0017},
		extra:    []tlsExt{{0x0017, nil}, {0xff01, []byte{0}}, {0x0033, make([]byte, 40)}, {0x4a4a, nil}},
	}
}
