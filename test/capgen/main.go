// Command capgen makes the small captures the project ships as test
// fixtures and demo input: real Go clients and servers (crypto/tls,
// net/http, quic-go, a DNS server, SSH banners, a BitTorrent handshake)
// talking between two network namespaces while tcpdump records. It is run
// by scripts/make-captures.sh as root; tests only replay its output.
//
//	capgen serve SCENARIO SERVERIP  (in the server namespace)
//	capgen client SCENARIO SERVERIP (in the client namespace)
//
// Each scenario gets its own server address, so names learned from one
// scenario's DNS answers do not spill into the others in the merged demo.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/net/dns/dnsmessage"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: capgen serve|client SCENARIO SERVERIP")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		self = net.ParseIP(os.Args[3])
		err = serve(os.Args[2])
	case "client":
		err = client(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "capgen:", err)
		os.Exit(1)
	}
}

// self is the server's address for this scenario; DNS answers carry it.
var self net.IP

// on is the listening address for a port: the scenario's own address, so
// replies come from the address the client asked.
func on(port string) string { return net.JoinHostPort(self.String(), port) }

// certificate makes a leaf for one name, signed by a throwaway CA, valid
// for a year (so no expiry risk is flagged).
func certificate(name string) tls.Certificate {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ips test CA", Organization: []string{"ips"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, _ := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name, Organization: []string{"ips"}},
		DNSNames:  []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, _ := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
}

// serverTLS answers each SNI with a certificate for that name only (and
// a name-less connection with one for the server's address name).
func serverTLS(maxVersion uint16) *tls.Config {
	return &tls.Config{MaxVersion: maxVersion, NextProtos: []string{"http/1.1", "ips-test"},
		GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			name := hi.ServerName
			if name == "" {
				name = "learned.example.test"
			}
			c := certificate(name)
			return &c, nil
		}}
}

func serve(scenario string) error {
	switch scenario {
	case "tls13", "youtube":
		return serveHTTPS(on("443"), 0)
	case "dnslearn":
		go serveDNS(on("53"))
		return serveHTTPS(on("443"), 0)
	case "tls12":
		return serveHTTPS(on("443"), tls.VersionTLS12)
	case "http", "http6":
		return serveHTTP(on("80"))
	case "dns":
		go serveDNSTCP(on("53"))
		return serveDNS(on("53"))
	case "quic":
		return serveQUIC(on("443"))
	case "ssh":
		return serveLines(on("22"), "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
	case "bittorrent":
		return serveBitTorrent(on("6881"))
	case "unknown":
		return serveLines(on("5555"), "\x00\x01\x02\x03 no protocol here\n")
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

func client(scenario, server string) error {
	host := func(port string) string { return net.JoinHostPort(server, port) }
	switch scenario {
	case "tls13":
		return httpsGet(host("443"), "www.example.test", 0, []string{"h2", "http/1.1"})
	case "tls12":
		return httpsGet(host("443"), "legacy.example.test", tls.VersionTLS12, []string{"http/1.1"})
	case "youtube":
		return httpsGet(host("443"), "www.youtube.com", 0, []string{"h2", "http/1.1"})
	case "http", "http6":
		return httpGet("http://" + host("80") + "/index.html")
	case "dns":
		if err := dnsQuery(host("53"), "udp", "www.example.test."); err != nil {
			return err
		}
		return dnsQuery(host("53"), "tcp", "mail.example.test.")
	case "dnslearn":
		// Learn the server's address from DNS (the answer is in the
		// capture: see the dns scenario's server), then talk TLS to it
		// with no SNI, so only the DNS cache can name the flow.
		if err := dnsQuery(host("53"), "udp", "learned.example.test."); err != nil {
			return err
		}
		return httpsGet(host("443"), "", 0, []string{"http/1.1"})
	case "quic":
		return quicGet(host("443"), "quic.example.test")
	case "ssh":
		return lineExchange(host("22"), "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n")
	case "bittorrent":
		return btHandshake(host("6881"))
	case "unknown":
		return lineExchange(host("5555"), "\xfe\xed\xfa\xce random bytes\n")
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

func serveHTTPS(addr string, maxVersion uint16) error {
	ln, err := tls.Listen("tcp", addr, serverTLS(maxVersion))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler(), ReadHeaderTimeout: 5 * time.Second}
	return srv.Serve(ln)
}

func serveHTTP(addr string) error {
	srv := &http.Server{Addr: addr, Handler: handler(), ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}

func handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "capgen/1.0")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><body>hello %s</body></html>\n", r.Host)
	})
}

func httpsGet(addr, sni string, maxVersion uint16, alpn []string) error {
	cfg := &tls.Config{ServerName: sni, InsecureSkipVerify: true, MaxVersion: maxVersion, NextProtos: alpn}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	host := sni
	if host == "" {
		host = "learned.example.test"
	}
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: ips-capgen/1.0\r\nConnection: close\r\n\r\n", host)
	_, err = io.Copy(io.Discard, conn)
	return err
}

func httpGet(url string) error {
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = "www.example.test"
	req.Header.Set("User-Agent", "ips-capgen/1.0")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func dnsAnswer(req []byte, self net.IP) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired})
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	var a [4]byte
	copy(a[:], self.To4())
	b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 300}, dnsmessage.AResource{A: a})
	return b.Finish()
}

func serveDNS(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		if out, err := dnsAnswer(buf[:n], self); err == nil {
			pc.WriteTo(out, from)
		}
	}
}

func serveDNSTCP(addr string) error {
	return serveTCP(addr, func(c net.Conn) {
		defer c.Close()
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		req := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		out, err := dnsAnswer(req, self)
		if err != nil {
			return
		}
		c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(out))))
		c.Write(out)
	})
}

func dnsQuery(addr, network, name string) error {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 0x1234, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	msg, _ := b.Finish()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if network == "tcp" {
		msg = append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
	}
	if _, err := c.Write(msg); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	_, err = c.Read(buf)
	return err
}

func serveQUIC(addr string) error {
	ln, err := quic.ListenAddr(addr, serverTLS(0), &quic.Config{})
	if err != nil {
		return err
	}
	for {
		conn, err := ln.Accept(context.Background())
		if err != nil {
			return err
		}
		go func() {
			s, err := conn.AcceptStream(context.Background())
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(s).ReadString('\n')
			fmt.Fprintf(s, "echo %s", line)
			s.Close()
			time.Sleep(200 * time.Millisecond)
			conn.CloseWithError(0, "done")
		}()
	}
}

func quicGet(addr, sni string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"ips-test"}}, &quic.Config{})
	if err != nil {
		return err
	}
	s, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(s, "hello over quic\n")
	s.Close()
	_, err = io.ReadAll(s)
	conn.CloseWithError(0, "bye")
	return err
}

// serveTCP runs handle on its own goroutine for every connection to addr.
func serveTCP(addr string, handle func(c net.Conn)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go handle(c)
	}
}

// serveLines answers every connection with a greeting, then echoes one line.
func serveLines(addr, greeting string) error {
	return serveTCP(addr, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, greeting)
		line, _ := bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, line)
	})
}

func lineExchange(addr, line string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		return err
	}
	io.WriteString(c, line)
	_, err = r.ReadString('\n')
	return err
}

// btHandshakeMsg is a BitTorrent peer handshake (BEP 3): pstrlen, pstr,
// 8 reserved bytes, the 20-byte info hash and a 20-byte peer id.
func btHandshakeMsg(peer string) []byte {
	m := []byte("\x13BitTorrent protocol")
	m = append(m, 0, 0, 0, 0, 0, 0x10, 0, 0x05)
	m = append(m, []byte("\x12\x34\x56\x78\x9a\xbc\xde\xf0\x12\x34\x56\x78\x9a\xbc\xde\xf0\x12\x34\x56\x78")...)
	return append(m, []byte(strings.Repeat(peer, 20)[:20])...)
}

func serveBitTorrent(addr string) error {
	return serveTCP(addr, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 68)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		c.Write(btHandshakeMsg("-SV0001-"))
		io.Copy(io.Discard, c)
	})
}

func btHandshake(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(btHandshakeMsg("-CL0001-"))
	buf := make([]byte, 68)
	_, err = io.ReadFull(c, buf)
	return err
}
