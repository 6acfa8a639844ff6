package tls

import (
	"testing"
)

// Native fuzz targets: no input may panic, and what parses must render.

func FuzzClientHello(f *testing.F) {
	f.Add(unhex(f, rfc8448ClientHello)[4:], false)
	f.Add(unhex(f, rfc9001ClientHello)[4:], false)
	f.Add([]byte{3, 3}, true)
	f.Fuzz(func(t *testing.T, b []byte, dtls bool) {
		var h ClientHello
		if ParseClientHello(b, dtls, &h) != nil {
			return
		}
		var buf [2048]byte
		AppendJA4(buf[:0], &h, JA4TCP, JA4NDPI)
		AppendJA4(buf[:0], &h, JA4QUIC, JA4FoxIO)
		AppendMD5Hex(buf[:0], AppendJA3(buf[:0], &h))
		AppendALPNList(buf[:0], h.ALPN, ',', 255)
		h.MaxVersion()
		h.OffersOnly13()
	})
}

func FuzzServerHello(f *testing.F) {
	f.Add(unhex(f, rfc8448ServerHello)[4:])
	f.Fuzz(func(t *testing.T, b []byte) {
		var s ServerHello
		if ParseServerHello(b, &s) == nil {
			var buf [1024]byte
			AppendJA3S(buf[:0], &s)
		}
	})
}

func FuzzCertificate(f *testing.F) {
	msg := unhex(f, rfc8448Certificate)[4:]
	der, _ := LeafCertificate(msg, true)
	f.Add(der)
	f.Add(der[:200])
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Certificate
		if ParseCertificate(b, &c) == nil {
			c.MatchesHost([]byte("www.example.com"))
			c.MatchesHost([]byte("192.0.2.1"))
			c.SelfIssued()
		}
	})
}

func FuzzHandshakeAndRecords(f *testing.F) {
	f.Add(unhex(f, rfc8448Certificate), true)
	f.Add([]byte{22, 3, 1, 0, 5, 1, 0, 0, 1, 0}, false)
	f.Add([]byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 12, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, b []byte, tls13 bool) {
		ParseRecord(b)
		ParseDTLSRecord(b)
		ParseHandshake(b)
		if h, ok := ParseDTLSHandshake(b); ok && h.FragOffset+h.FragLength > h.Length {
			t.Fatalf("fragment past the message accepted: %+v", h)
		}
		LeafCertificate(b, tls13)
		IsIPv4Literal(b)
	})
}
