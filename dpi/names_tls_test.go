package dpi

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// Tests of the TLS tricks that hide a server name from a DPI box while the
// server still reads it: record fragmentation (RFC 8446 §5.1 lets a sender
// cut a handshake message into records of any size), tiny TCP segments,
// and large post-quantum ClientHellos. Each runs for a blocked and an
// allowed name: both must be found, exactly as sent.

// pqHello is a ClientHello shaped like a post-quantum browser's: an
// X25519MLKEM768 key share (group 0x11ec, 1216 bytes) and X25519 (32),
// padded to total bytes of handshake message when total > 0.
func pqHello(sni string, total int) []byte {
	spec := chrome13(sni)
	spec.groups = []uint16{0x1a1a, 0x11ec, 0x001d, 0x0017}
	var ks []byte
	ks = put16(ks, 0x11ec)
	ks = vec16(ks, make([]byte, 1216))
	ks = put16(ks, 0x001d)
	ks = vec16(ks, make([]byte, 32))
	spec.extra = []tlsExt{{0x0017, nil}, {0xff01, []byte{0}}, {0x0033, vec16(nil, ks)}}
	msg := clientHelloMsg(spec)
	if total > len(msg)+4 {
		spec.padding = total - len(msg) - 4
		msg = clientHelloMsg(spec)
	}
	return msg
}

// cutSegments cuts stream into TCP payloads of the given sizes, the last
// size repeating.
func cutSegments(stream []byte, sizes ...int) [][]byte {
	var out [][]byte
	for i := 0; len(stream) > 0; i++ {
		n := sizes[min(i, len(sizes)-1)]
		n = min(n, len(stream))
		out = append(out, stream[:n])
		stream = stream[n:]
	}
	return out
}

// tlsClient sends the segments of a client's first flight on a fresh
// connection to port 443 and returns the flow after the last one.
func tlsClient(t *testing.T, segs [][]byte) *Flow {
	t.Helper()
	s := newSim(t, IPProtoTCP, "10.0.0.1:40000", "192.0.2.9:443")
	s.handshake()
	var f *Flow
	for i, p := range segs {
		f = s.send(ToServer, p)
		if i%2 == 1 {
			s.tcp(ToClient, TCPAck, nil) // the server acknowledges as it goes
		}
	}
	return f
}

func TestTLSRecordFragmentationAndTinySegments(t *testing.T) {
	type trick struct {
		name   string
		record int   // record body size (0: one record per 16 KiB)
		sizes  []int // TCP payload sizes
		total  int   // ClientHello size (0: a plain browser hello)
	}
	tricks := []trick{
		{"split after the first byte", 0, []int{1, 1 << 16}, 0},
		{"split inside the record header", 0, []int{3, 1 << 16}, 0},
		{"split after the record header", 0, []int{5, 1 << 16}, 0},
		{"split inside the handshake header", 0, []int{7, 1 << 16}, 0},
		{"1-byte segments", 0, []int{1}, 0},
		{"1-byte records in one segment", 1, []int{1 << 16}, 0},
		{"1-byte records, 1-byte segments", 1, []int{1}, 0},
		{"5-byte records, 7-byte segments", 5, []int{7}, 0},
		{"2-byte records, 3-byte segments", 2, []int{3}, 0},
		{"records cut at 100, segments at 1448", 100, []int{1448}, 0},
		{"post-quantum hello, 1448-byte segments", 0, []int{1448}, 0},
		{"4 KB hello", 0, []int{1448}, 4096},
		{"8 KB hello", 0, []int{1448}, 8192},
		{"8 KB hello in 512-byte records", 512, []int{1000}, 8192},
		{"4 KB hello in 16-byte records, 100-byte segments", 16, []int{100}, 4096},
		{"2 KB hello, 1-byte records, 1-byte segments", 1, []int{1}, 2048},
		{"13 KB hello in 1-byte records", 1, []int{1448}, 13000},
		{"16 000-byte hello", 0, []int{1448}, 16000},
		{"16 000-byte hello in 1-byte records, 5-byte segments", 1, []int{5}, 16000},
	}
	for _, tr := range tricks {
		for _, host := range []string{"blocked.example", "allowed.example"} {
			t.Run(fmt.Sprintf("%s/%s", tr.name, host), func(t *testing.T) {
				var msg []byte
				if tr.total == 0 && tr.name != "post-quantum hello, 1448-byte segments" {
					msg = clientHelloMsg(chrome13(host))
				} else {
					msg = pqHello(host, tr.total)
				}
				rec := tr.record
				if rec == 0 {
					rec = 1 << 14
				}
				stream := tlsRecords(22, 0x0301, msg, rec)
				f := tlsClient(t, cutSegments(stream, tr.sizes...))
				r := &f.Result
				if r.Master != ProtoTLS || r.Hostname != host {
					t.Fatalf("%d-byte hello, %d stream bytes: %s %q state %v after %d packets", len(msg), len(stream), r.AppName(), r.Hostname, r.State, r.DPIPackets)
				}
				if r.JA4 == "" || r.Uninspectable || r.Risks.Has(RiskObfuscatedTraffic) {
					t.Errorf("JA4 %q uninspectable %v risks %v", r.JA4, r.Uninspectable, r.Risks.AppendNames(nil))
				}
			})
		}
	}
}

// TestTLSHelloSameAsUnfragmented: fragmentation changes nothing that is
// read (fingerprints included).
func TestTLSHelloSameAsUnfragmented(t *testing.T) {
	msg := pqHello("blocked.example", 3000)
	plain := tlsClient(t, [][]byte{tlsRecords(22, 0x0301, msg, 1<<14)}).Result
	frag := tlsClient(t, cutSegments(tlsRecords(22, 0x0301, msg, 3), 2, 9, 1, 1448)).Result
	if plain.JA4 != frag.JA4 || plain.JA3 != frag.JA3 || plain.Hostname != frag.Hostname || plain.ALPN != frag.ALPN {
		t.Errorf("plain %s %s %q %q, fragmented %s %s %q %q", plain.JA4, plain.JA3, plain.Hostname, plain.ALPN,
			frag.JA4, frag.JA3, frag.Hostname, frag.ALPN)
	}
}

// TestTLSHelloTooLargeIsReported: a ClientHello larger than the stream
// buffer (Go's crypto/tls server takes up to 64 KiB) cannot be read; the
// flow says so instead of passing as anonymous TLS.
func TestTLSHelloTooLargeIsReported(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rec   int
		total int
	}{
		{"20 KB hello in two records", 1 << 14, 20000},
		{"17 KB hello in 1 KB records", 1024, 17000},
		// 96,000 one-byte segments (and their ACKs) are more than the
		// engine lets go uncharged (freeCap): what it could not read in
		// time is reported too.
		{"16 KB hello in 1-byte records, 1-byte segments", 1, 16000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := tlsRecords(22, 0x0301, pqHello("blocked.example", tc.total), tc.rec)
			seg := 1448
			if tc.rec == 1 {
				seg = 1
			}
			f := tlsClient(t, cutSegments(stream, seg))
			r := &f.Result
			if !r.Uninspectable || !r.Risks.Has(RiskObfuscatedTraffic) {
				t.Fatalf("%s %q uninspectable %v risks %v", r.AppName(), r.Hostname, r.Uninspectable, r.Risks.AppendNames(nil))
			}
			if r.Master != ProtoTLS {
				t.Errorf("master %s: the record headers still say TLS", r.AppName())
			}
		})
	}
}

// TestTLSNearMisses: bytes that look like the start of a handshake but are
// not one are not taken for TLS, and a hello that never completes names
// nothing.
func TestTLSNearMisses(t *testing.T) {
	msg := clientHelloMsg(chrome13("blocked.example"))
	stream := tlsRecords(22, 0x0301, msg, 1<<14)
	t.Run("truncated hello", func(t *testing.T) {
		f := tlsClient(t, cutSegments(stream[:len(stream)-10], 1))
		if r := &f.Result; r.Hostname != "" || r.State.Final() && r.Master == ProtoTLS && r.Hostname != "" {
			t.Fatalf("named %q from a truncated hello", r.Hostname)
		}
	})
	t.Run("empty handshake record first", func(t *testing.T) {
		bad := append([]byte{22, 3, 1, 0, 0}, stream...)
		f := tlsClient(t, [][]byte{bad})
		if r := &f.Result; r.Master == ProtoTLS && r.Hostname == "blocked.example" {
			t.Fatalf("an empty handshake record (RFC 8446 §5.1 forbids them) was read as TLS")
		}
	})
	t.Run("not a hello", func(t *testing.T) {
		bad := append([]byte(nil), stream...)
		bad[5] = 20 // Finished
		f := tlsClient(t, cutSegments(bad, 1))
		if r := &f.Result; r.Master == ProtoTLS && !r.Guessed {
			t.Fatalf("a stream starting with Finished was taken for TLS")
		}
	})
	t.Run("SSL 2 version byte", func(t *testing.T) {
		bad := append([]byte(nil), stream...)
		bad[1] = 2
		f := tlsClient(t, cutSegments(bad, 1))
		if r := &f.Result; r.Hostname != "" {
			t.Fatalf("named %q", r.Hostname)
		}
	})
}

// TestTLSNamesCanonical: the SNI is compared as the server compares it.
func TestTLSNamesCanonical(t *testing.T) {
	for _, sni := range []string{"Blocked.EXAMPLE", "blocked.example.", "BLOCKED.example.."} {
		f := tlsClient(t, [][]byte{tlsRecords(22, 0x0301, clientHelloMsg(chrome13(sni)), 1<<14)})
		if f.Result.Hostname != "blocked.example" {
			t.Errorf("SNI %q: hostname %q", sni, f.Result.Hostname)
		}
	}
}

// TestTLSFragmentedAllocs: reading a fragmented hello costs nothing in
// the steady state.
func TestTLSFragmentedAllocs(t *testing.T) {
	stream := tlsRecords(22, 0x0301, pqHello("blocked.example", 4096), 7)
	cli, srv := netip.MustParseAddrPort("10.0.0.1:40100"), netip.MustParseAddrPort("192.0.2.9:443")
	seq := [2]uint32{1000, 5000}
	var pkts [][]byte
	add := func(d Dir, flags uint8, payload []byte) {
		src, dst := cli, srv
		if d == ToClient {
			src, dst = srv, cli
		}
		pkts = append(pkts, buildIP(nil, IPProtoTCP, src, dst, flags, seq[d], seq[1-d], payload))
		n := uint32(len(payload))
		if flags&(TCPSyn|TCPFin) != 0 {
			n++
		}
		seq[d] += n
	}
	add(ToServer, TCPSyn, nil)
	add(ToClient, TCPSyn|TCPAck, nil)
	add(ToServer, TCPAck, nil)
	for _, p := range cutSegments(stream, 1, 5, 3, 700) {
		add(ToServer, TCPPsh|TCPAck, p)
	}
	add(ToServer, TCPRst, nil)
	e := NewEngine(Config{})
	var p Packet
	now := simTime.UnixNano()
	var res Result
	run := func() {
		for _, b := range pkts {
			if err := p.DecodeIP(b); err != nil {
				t.Fatal(err)
			}
			now += 1e6
			if f, _ := e.Process(&p, now); f != nil {
				res = f.Result
			}
		}
	}
	run()
	if res.Hostname != "blocked.example" {
		t.Fatalf("hello not read: %+v", res)
	}
	if a := testing.AllocsPerRun(50, run); a != 0 {
		t.Errorf("%v allocations per fragmented connection in the steady state", a)
	}
}

// goClientHello is the first flight of Go's crypto/tls client for sni (one
// handshake record; Go offers X25519MLKEM768, so it is large).
func goClientHello(t *testing.T, sni string) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	go tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}).Handshake()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(s, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(s, body); err != nil {
		t.Fatal(err)
	}
	return body // the ClientHello handshake message
}

// TestGoServerReadsFragmentedHello: Go's crypto/tls server reads a
// ClientHello cut into one-byte records (RFC 8446 §5.1 allows it), so the
// trick reaches a real server; the engine reads the same bytes, sent in
// tiny segments, and finds the same name.
func TestGoServerReadsFragmentedHello(t *testing.T) {
	for _, host := range []string{"blocked.example", "allowed.example"} {
		msg := goClientHello(t, host)
		if len(msg) < 1200 {
			t.Errorf("Go's hello is %d bytes: no post-quantum key share?", len(msg))
		}
		stream := tlsRecords(22, 0x0301, msg, 1)
		// The server side.
		c, s := net.Pipe()
		got := make(chan string, 1)
		srv := tls.Server(s, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			got <- h.ServerName
			return nil, errors.New("enough")
		}})
		go func() {
			c.Write(stream)
			c.Close()
		}()
		srv.SetDeadline(time.Now().Add(5 * time.Second))
		srv.Handshake()
		s.Close()
		select {
		case name := <-got:
			if name != host {
				t.Fatalf("Go's server read %q", name)
			}
		default:
			t.Fatalf("Go's server did not read the fragmented hello")
		}
		// The engine.
		f := tlsClient(t, cutSegments(stream, 3))
		if f.Result.Hostname != host || f.Result.Master != ProtoTLS {
			t.Errorf("engine: %s %q", f.Result.AppName(), f.Result.Hostname)
		}
	}
}
