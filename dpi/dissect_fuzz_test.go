package dpi

import (
	"crypto/x509/pkix"
	"net/netip"
	"testing"

	"ips/dpi/quic"
)

// Fuzz targets driving the TLS, QUIC and DTLS dissectors through the
// engine: the input is cut into payloads, alternating directions.

// fuzzCatalog is built once: building the embedded catalog for every
// input would dominate the fuzzing time.
var fuzzCatalog = DefaultCatalog()

// fuzzSim is newSim with a small engine (the default one takes
// megabytes to build).
func fuzzSim(t *testing.T, proto uint8, cli, srv string) *sim {
	s := &sim{t: t, proto: proto, now: 1_700_000_000e9,
		cli: netip.MustParseAddrPort(cli), srv: netip.MustParseAddrPort(srv), seq: [2]uint32{1000, 5000}}
	s.e = NewEngine(Config{MaxFlows: 16, MaxStreams: 8, Catalog: fuzzCatalog, DNSCache: NewDNSCache(16)})
	return s
}

func splitPayloads(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 2 {
		n := int(b[0])<<8 | int(b[1])
		b = b[2:]
		if n > len(b) {
			n = len(b)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func joinPayloads(ps ...[]byte) []byte {
	var out []byte
	for _, p := range ps {
		out = append(out, byte(len(p)>>8), byte(len(p)))
		out = append(out, p...)
	}
	return out
}

func FuzzTLSDissector(f *testing.F) {
	ch := tlsRecords(22, 0x0301, clientHelloMsg(chrome13("www.example.com")), 1<<14)
	cert := makeCert(f, certSpec{issuer: pkix.Name{CommonName: "CA"}, subject: pkix.Name{CommonName: "x"},
		dns: []string{"x"}, notBefore: simTime, notAfter: simTime.AddDate(0, 1, 0)})
	flight := tlsRecords(22, 0x0303, append(serverHelloMsg(0x0303, 0x0303, 0x2f, "h2"), handshakeMsg(11, certificateBody(cert), false)...), 400)
	f.Add(joinPayloads(ch[:100], ch[100:], flight[:len(flight)/2], flight[len(flight)/2:]))
	f.Add(joinPayloads(ch, []byte{21, 3, 3, 0, 2, 2, 40}))
	f.Add(joinPayloads(tlsRecords(23, 0x0303, make([]byte, 50), 100)))
	frag := tlsRecords(22, 0x0301, clientHelloMsg(chrome13("www.example.com")), 3)
	f.Add(joinPayloads(frag[:1], nil, frag[1:7], nil, frag[7:100], nil, frag[100:]))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := fuzzSim(t, IPProtoTCP, "10.0.0.1:40000", "192.0.2.9:443")
		s.handshake()
		for i, p := range splitPayloads(b) {
			s.send(Dir(i&1), p)
		}
		s.e.Flush()
		if s.e.streamsOut != 0 {
			t.Fatalf("%d stream buffers not returned", s.e.streamsOut)
		}
	})
}

func FuzzQUICDissector(f *testing.F) {
	f.Add(joinPayloads(rfcInitial(f, quic.Version1)))
	f.Add(joinPayloads(rfcInitial(f, quic.Version2), make([]byte, 40), rfcInitial(f, quic.Version1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := fuzzSim(t, IPProtoUDP, "10.0.0.1:50000", "192.0.2.9:443")
		for i, p := range splitPayloads(b) {
			// Mostly client packets: they are the ones decrypted.
			s.send(Dir(i%3/2), p)
		}
		s.e.Flush()
		if s.e.streamsOut != 0 {
			t.Fatalf("%d pooled buffers not returned", s.e.streamsOut)
		}
	})
}

func FuzzDTLSDissector(f *testing.F) {
	spec := chSpec{version: 0xfefd, dtls: true, ciphers: []uint16{0xc02b}, sni: "a.example"}
	cert := makeCert(f, certSpec{issuer: pkix.Name{CommonName: "x"}, subject: pkix.Name{CommonName: "x"}, notBefore: simTime, notAfter: simTime})
	body := certificateBody(cert)
	f.Add(joinPayloads(dtlsRecord(22, 0xfeff, 0, clientHelloMsg(spec)),
		dtlsRecord(22, 0xfefd, 1, dtlsFragment(11, 1, body, 0, 100)),
		dtlsRecord(22, 0xfefd, 2, dtlsFragment(11, 1, body, 100, len(body)-100))))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := fuzzSim(t, IPProtoUDP, "10.0.0.1:50010", "192.0.2.9:4433")
		for i, p := range splitPayloads(b) {
			s.send(Dir(i&1), p)
		}
		s.e.Flush()
		if s.e.streamsOut != 0 {
			t.Fatalf("%d pooled buffers not returned", s.e.streamsOut)
		}
	})
}

// FuzzTLSFragmentation: however a ClientHello is cut into records and the
// records into segments (the fuzzer picks the sizes), the name read is the
// one sent.
func FuzzTLSFragmentation(f *testing.F) {
	f.Add(uint16(1), []byte{1})
	f.Add(uint16(5), []byte{7, 1, 200})
	f.Add(uint16(16384), []byte{1, 0, 3})
	f.Add(uint16(300), []byte{2, 9, 255, 1})
	msg := pqHello("Blocked.Example", 0)
	f.Fuzz(func(t *testing.T, record uint16, cuts []byte) {
		if record == 0 || record > 1<<14 || len(cuts) == 0 {
			return
		}
		stream := tlsRecords(22, 0x0301, msg, int(record))
		var sizes []int
		for _, c := range cuts {
			sizes = append(sizes, int(c)*8+1) // 1 to 2041 bytes
		}
		s := fuzzSim(t, IPProtoTCP, "10.0.0.1:40000", "192.0.2.9:443")
		s.e.cfg.Catalog = fuzzCatalog
		s.handshake()
		var fl *Flow
		for _, p := range cutSegments(stream, sizes...) {
			fl = s.send(ToServer, p)
		}
		if fl.Result.Hostname != "blocked.example" {
			t.Fatalf("records of %d, segments %v: hostname %q", record, sizes, fl.Result.Hostname)
		}
		s.e.Flush()
		if s.e.streamsOut != 0 {
			t.Fatalf("%d stream buffers not returned", s.e.streamsOut)
		}
	})
}
