package dpi

import (
	"crypto/x509/pkix"
	"strings"
	"testing"
)

// dtlsFragment builds a handshake fragment (RFC 6347 §4.2.2).
func dtlsFragment(typ byte, seq uint16, body []byte, off, n int) []byte {
	m := put24([]byte{typ}, len(body))
	m = put16(m, seq)
	m = put24(m, off)
	m = put24(m, n)
	return append(m, body[off:off+n]...)
}

// TestDTLSHandshake: a WebRTC-style DTLS 1.2 handshake, the server's
// certificate fragmented over two datagrams, after STUN checks.
func TestDTLSHandshake(t *testing.T) {
	stun := []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	s := newSim(t, IPProtoUDP, "10.0.0.1:50010", "192.0.2.9:19305")
	s.send(ToServer, stun)
	s.send(ToClient, stun)
	spec := chSpec{version: 0xfefd, dtls: true, ciphers: []uint16{0xc02b, 0xc02f, 0x0035}, alpn: []string{"webrtc", "c-webrtc"},
		groups: []uint16{0x1d, 0x17}, sigalgs: []uint16{0x0403, 0x0804}, extra: []tlsExt{{14, []byte{0, 2, 0, 1, 0}}, {23, nil}}}
	f := s.send(ToServer, dtlsRecord(22, 0xfeff, 0, clientHelloMsg(spec)))
	r := &f.Result
	if r.Master != ProtoDTLS || r.State != Partial {
		t.Fatalf("after the ClientHello: %+v", r)
	}
	if !strings.HasPrefix(r.JA4, "dd2d0305we_") || r.ALPN != "webrtc,c-webrtc" {
		t.Errorf("JA4 %s ALPN %q", r.JA4, r.ALPN)
	}
	if r.Risks.Has(RiskTLSMissingSNI) {
		t.Error("WebRTC's DTLS has no SNI by design; nDPI does not flag it")
	}
	cert := makeCert(t, certSpec{issuer: pkix.Name{CommonName: "hangouts"}, subject: pkix.Name{CommonName: "hangouts"},
		notBefore: simTime.AddDate(0, 0, -1), notAfter: simTime.AddDate(0, 1, 0)})
	body := certificateBody(cert)
	half := len(body) / 2
	sh := serverHelloMsg(0xfefd, 0xfefd, 0xc02b, "")
	sh = append(sh[:4:4], append(make([]byte, 8), sh[4:]...)...) // DTLS header: seq, offset, length
	copy(sh[4:], []byte{0, 0, 0, 0, 0, sh[1], sh[2], sh[3]})
	d1 := dtlsRecord(22, 0xfefd, 0, sh)
	d1 = append(d1, dtlsRecord(22, 0xfefd, 1, dtlsFragment(11, 1, body, 0, half))...)
	f = s.send(ToClient, d1)
	if f.Result.State != Partial || f.Result.Cipher != 0xc02b {
		t.Fatalf("after the first half: %+v", f.Result)
	}
	f = s.send(ToClient, dtlsRecord(22, 0xfefd, 2, dtlsFragment(11, 1, body, half, len(body)-half)))
	r = &f.Result
	if r.State != Classified || r.Meta == nil || r.Meta.CertSubject != "CN=hangouts" {
		t.Fatalf("after the certificate: %+v", r)
	}
	if r.Risks.Has(RiskTLSSelfSigned) {
		t.Error("self-signed flagged on DTLS-SRTP, where it is the norm")
	}
}

func TestDTLSMidSessionAndNot(t *testing.T) {
	s := newSim(t, IPProtoUDP, "10.0.0.1:50011", "192.0.2.9:3478")
	f := s.send(ToServer, dtlsRecord(23, 0xfefd, 77, make([]byte, 120)))
	if f.Result.Master != ProtoDTLS || f.Result.State != Classified {
		t.Errorf("mid-session: %+v", f.Result)
	}
	s = newSim(t, IPProtoUDP, "10.0.0.1:50012", "192.0.2.9:3478")
	bad := dtlsRecord(23, 0xfefd, 77, make([]byte, 120))
	bad = bad[:len(bad)-1] // the record overruns the datagram
	if f := s.send(ToServer, bad); f.Result.Master == ProtoDTLS {
		t.Error("truncated record accepted")
	}
}
