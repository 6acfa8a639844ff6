//go:build linux

package harness

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// PKI is a throwaway certificate authority and one server certificate for
// the test hostnames.
type PKI struct {
	Roots  *x509.CertPool
	Server tls.Certificate
}

// Hostnames the servers answer for. blocked.example is what the policy
// tests drop; allowed.example what they pass.
var Hostnames = []string{"allowed.example", "blocked.example", "www.allowed.example"}

// NewPKI makes a CA and a server certificate for Hostnames.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ips e2e CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: Hostnames[0]},
		DNSNames: Hostnames, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{Roots: x509.NewCertPool(), Server: tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}}
	p.Roots.AddCert(caCert)
	return p
}

// Apps are the servers on the WAN host the acceptance tests talk to.
type Apps struct {
	PKI *PKI
	// Addresses on the WAN host.
	HTTPS, QUIC, DNS, BitTorrent netip.AddrPort
}

const quicALPN = "ips-e2e"

// StartApps runs on the WAN host: HTTPS (Go crypto/tls + net/http) on
// TCP 443, QUIC (quic-go, one echo stream) on UDP 443, DNS on UDP 53
// answering every A query with the WAN address, and a BitTorrent peer on
// TCP 6881 that answers a handshake with its own.
func (t *Topology) StartApps(tb testing.TB) *Apps {
	tb.Helper()
	a := &Apps{PKI: NewPKI(tb),
		HTTPS: netip.AddrPortFrom(t.WANAddr, 443), QUIC: netip.AddrPortFrom(t.WANAddr, 443),
		DNS: netip.AddrPortFrom(t.WANAddr, 53), BitTorrent: netip.AddrPortFrom(t.WANAddr, 6881)}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{a.PKI.Server}}

	ln := t.WAN.Listen(tb, "tcp", ":443")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello %s", r.Host)
		}),
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.ServeTLS(ln, "", "")
	tb.Cleanup(func() { srv.Close() })

	pc := t.WAN.ListenPacket(tb, "udp", ":443")
	qtls := tlsConf.Clone()
	qtls.NextProtos = []string{quicALPN}
	ql, err := quic.Listen(pc, qtls, &quic.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ql.Close() })
	go func() {
		for {
			c, err := ql.Accept(context.Background())
			if err != nil {
				return
			}
			go func() {
				s, err := c.AcceptStream(context.Background())
				if err != nil {
					return
				}
				io.Copy(s, s)
				s.Close()
			}()
		}
	}()

	dns := t.WAN.ListenPacket(tb, "udp", ":53")
	go serveDNS(dns, t.WANAddr)

	Serve(t.WAN.Listen(tb, "tcp", ":6881"), btPeer)
	return a
}

// HTTPSGet fetches https://host/ from the namespace, connecting to addr,
// and returns the body.
func (a *Apps) HTTPSGet(ns NS, local netip.Addr, host string, timeout time.Duration) (string, error) {
	dial := ns.Dialer(local, timeout)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dial(ctx, network, a.HTTPS.String())
		},
		TLSClientConfig:   &tls.Config{RootCAs: a.PKI.Roots, ServerName: host},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: timeout}
	resp, err := c.Get("https://" + host + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// QUICEcho opens a QUIC connection with SNI host from the namespace,
// sends a line on a stream and waits for it back.
func (a *Apps) QUICEcho(ns NS, local netip.Addr, host string, timeout time.Duration) error {
	return a.QUICEchoFrom(ns, netip.AddrPortFrom(local, 0), host, timeout)
}

// Resolve asks the WAN host's DNS server for name's A record with Go's
// own resolver, from the namespace.
func (a *Apps) Resolve(ns NS, local netip.Addr, name string, timeout time.Duration) ([]netip.Addr, error) {
	dial := ns.Dialer(local, timeout)
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dial(ctx, "udp", a.DNS.String())
	}}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return r.LookupNetIP(ctx, "ip4", name)
}

// serveDNS answers A queries (RFC 1035 §4.1) with addr, anything else
// with an empty answer.
func serveDNS(pc net.PacketConn, addr netip.Addr) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		q := buf[:n]
		if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
			continue
		}
		// Walk the question's name to find QTYPE.
		off := 12
		for off < len(q) && q[off] != 0 {
			off += int(q[off]) + 1
		}
		if off+5 > len(q) {
			continue
		}
		qend := off + 5
		qtype := binary.BigEndian.Uint16(q[off+1 : off+3])
		resp := append([]byte(nil), q[:qend]...)
		resp[2] = 0x81 // QR, RD
		resp[3] = 0x80 // RA, NOERROR
		binary.BigEndian.PutUint16(resp[8:10], 0)
		binary.BigEndian.PutUint16(resp[10:12], 0)
		if qtype == 1 && addr.Is4() {
			binary.BigEndian.PutUint16(resp[6:8], 1)
			a4 := addr.As4()
			// Name pointer to the question (0xc00c), type A, class IN,
			// TTL 60, RDLENGTH 4.
			resp = append(resp, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
			resp = append(resp, a4[:]...)
		} else {
			binary.BigEndian.PutUint16(resp[6:8], 0)
		}
		pc.WriteTo(resp, from)
	}
}

// btHandshake is the BitTorrent peer wire handshake (BEP 3): length 19,
// "BitTorrent protocol", 8 reserved bytes, the 20-byte info hash and the
// 20-byte peer id.
func btHandshake(infoHash [20]byte, peerID string) []byte {
	b := []byte{19}
	b = append(b, "BitTorrent protocol"...)
	b = append(b, 0, 0, 0, 0, 0, 0x10, 0, 0x05) // extension protocol, DHT + fast
	b = append(b, infoHash[:]...)
	id := make([]byte, 20)
	copy(id, peerID)
	return append(b, id...)
}

var testInfoHash = [20]byte{0xc1, 0x2f, 0xe1, 0xc0, 0x6b, 0xba, 0x25, 0x4a, 0x9d, 0xc9,
	0xf5, 0x19, 0xb3, 0x35, 0xaa, 0x7c, 0x13, 0x67, 0xa8, 0x8a}

func btPeer(c net.Conn) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hs := make([]byte, 68)
	if _, err := io.ReadFull(c, hs); err != nil || hs[0] != 19 || string(hs[1:20]) != "BitTorrent protocol" {
		return
	}
	var ih [20]byte
	copy(ih[:], hs[28:48])
	c.Write(btHandshake(ih, "-IP0001-wanpeer00000"))
	io.Copy(io.Discard, c)
}

// BitTorrentHandshake sends a handshake to the WAN peer and waits for its
// answer.
func (a *Apps) BitTorrentHandshake(ns NS, local netip.Addr, timeout time.Duration) error {
	c, err := ns.Dial("tcp", local, a.BitTorrent.String(), timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(btHandshake(testInfoHash, "-IP0001-lanpeer00000")); err != nil {
		return err
	}
	got := make([]byte, 68)
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("no handshake reply: %w", err)
	}
	if !strings.HasPrefix(string(got[1:20]), "BitTorrent protocol") || !bytes.Equal(got[28:48], testInfoHash[:]) {
		return errors.New("bad handshake reply")
	}
	return nil
}
