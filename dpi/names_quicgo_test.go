package dpi_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"ips/dpi"
)

// recordConn keeps a copy of every datagram a QUIC client sends.
type recordConn struct {
	net.PacketConn
	mu  sync.Mutex
	out [][]byte
}

func (c *recordConn) WriteTo(b []byte, a net.Addr) (int, error) {
	c.mu.Lock()
	c.out = append(c.out, append([]byte(nil), b...))
	c.mu.Unlock()
	return c.PacketConn.WriteTo(b, a)
}

// quicGoInitials has quic-go (with Go's crypto/tls, which offers the
// X25519MLKEM768 key share by default) start a connection to a loopback
// socket that never answers, and returns the datagrams it sent.
func quicGoInitials(t *testing.T, sni string, alpn []string) [][]byte {
	t.Helper()
	t.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true") // the recorder is not a *net.UDPConn
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &recordConn{PacketConn: pc}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	tr := &quic.Transport{Conn: rc}
	defer tr.Close()
	_, err = tr.Dial(ctx, sink.LocalAddr(), &tls.Config{ServerName: sni, NextProtos: alpn}, &quic.Config{})
	if err == nil {
		t.Fatal("a handshake completed with a socket that never answers")
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.out) == 0 {
		t.Fatal("quic-go sent nothing")
	}
	return rc.out
}

// udp4 wraps a datagram in IPv4 and UDP headers.
func udp4(src, dst netip.AddrPort, payload []byte) []byte {
	b := make([]byte, 28, 28+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(28+len(payload)))
	b[8], b[9] = 64, 17
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	binary.BigEndian.PutUint16(b[20:], src.Port())
	binary.BigEndian.PutUint16(b[22:], dst.Port())
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	return append(b, payload...)
}

// TestQUICGoLargeClientHello: the ClientHello of a real QUIC stack, with
// its post-quantum key share and, in the large case, a long ALPN list
// making it several kilobytes over several Initial packets, names the
// flow.
func TestQUICGoLargeClientHello(t *testing.T) {
	var long []string
	for i := range 24 {
		long = append(long, fmt.Sprintf("ips-test-%03d-%s", i, strings.Repeat("x", 200)))
	}
	for _, tc := range []struct {
		name string
		alpn []string
		min  int // Initial datagrams the hello must span
	}{
		{"post-quantum hello", []string{"h3"}, 2},
		{"5 KB hello", long, 4},
	} {
		for _, host := range []string{"blocked.example", "allowed.example"} {
			t.Run(tc.name+"/"+host, func(t *testing.T) {
				dgs := quicGoInitials(t, host, tc.alpn)
				cli, srv := netip.MustParseAddrPort("10.0.0.1:50000"), netip.MustParseAddrPort("192.0.2.9:443")
				e := dpi.NewEngine(dpi.Config{})
				var p dpi.Packet
				var r dpi.Result
				now := time.Now().UnixNano()
				initials := 0
				for _, d := range dgs {
					if err := p.DecodeIP(udp4(cli, srv, d)); err != nil {
						t.Fatal(err)
					}
					now += 1e6
					f, _ := e.Process(&p, now)
					r = f.Result
					initials++
					if r.Hostname != "" {
						break
					}
				}
				if r.Master != dpi.ProtoQUIC || r.Hostname != host || r.Uninspectable {
					t.Fatalf("%d datagrams: %s %q uninspectable %v", len(dgs), r.AppName(), r.Hostname, r.Uninspectable)
				}
				if initials < tc.min {
					t.Errorf("the hello took %d datagrams, want ≥ %d: the test does not test what it says", initials, tc.min)
				}
				t.Logf("%d datagrams of %d bytes; name read after %d", len(dgs), len(dgs[0]), initials)
			})
		}
	}
}
