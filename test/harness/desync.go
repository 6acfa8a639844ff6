//go:build linux

package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/sys/unix"

	"ips/internal/ascii"
)

// The evasion suite's client side: test/tools/desync rewrites the LAN
// host's first data segments in the kernel's path, and the clients here
// add what only the application can do (TLS record fragmentation, TCP
// urgent data, HTTP spellings).

var buildDesync = goBuildOnce("ips/test/tools/desync", "desync")

func desyncBinary(t testing.TB) string {
	t.Helper()
	p, err := buildDesync()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Desync is a running test/tools/desync in the LAN namespace.
type Desync struct {
	cmd *exec.Cmd
	log *lockedBuffer
}

// DesyncPorts is the client source-port range the desync tool queues.
const DesyncPortLo, DesyncPortHi = 20000, 29999

// StartDesync runs the desync tool in the LAN namespace with one strategy
// per client source port (see test/tools/desync for the spec syntax) and
// waits until its queue rule is in place. It is stopped when the test
// ends; its log is shown if the test failed.
func (t *Topology) StartDesync(tb testing.TB, strategies map[uint16]string) *Desync {
	tb.Helper()
	var b strings.Builder
	ports := make([]int, 0, len(strategies))
	for p := range strategies {
		ports = append(ports, int(p))
	}
	sort.Ints(ports)
	for _, p := range ports {
		fmt.Fprintf(&b, "%d %s\n", p, strategies[uint16(p)])
	}
	path := filepath.Join(tb.TempDir(), "desync.map")
	if err := writeAtomic(path, b.String()); err != nil {
		tb.Fatal(err)
	}
	d := &Desync{log: &lockedBuffer{}}
	d.cmd = t.LAN.Cmd(desyncBinary(tb), "run", "-queue", "7", "-ports",
		fmt.Sprintf("%d-%d", DesyncPortLo, DesyncPortHi), "-map", path, "-dev", "eth0",
		"-gw-mac", mac(tb, t.WAN))
	pr, pw := io.Pipe()
	d.cmd.Stdout, d.cmd.Stderr = pw, d.log
	if err := d.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { d.cmd.Wait(); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		tb.Fatalf("desync did not start: %q %v\n%s", line, err, d.log.String())
	}
	go io.Copy(io.Discard, pr)
	tb.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		if tb.Failed() {
			tb.Logf("desync log:\n%s", d.log.String())
		}
	})
	return d
}

// Log is what the tool reported so far.
func (d *Desync) Log() string { return d.log.String() }

// SimulateHops makes the WAN host drop packets arriving with a TTL below
// `below`: a bridge decrements nothing, so without it a TTL-limited decoy
// meant to expire on the routers between the gateway and the server would
// reach the server and become real data.
func (t *Topology) SimulateHops(tb testing.TB, below int) {
	tb.Helper()
	t.WAN.MustRun(tb, desyncBinary(tb), "hops", "-below", fmt.Sprint(below))
}

// DialFrom connects from the namespace from a fixed local address and
// port (the port selects the desync strategy).
func (ns NS) DialFrom(local netip.AddrPort, remote netip.AddrPort, timeout time.Duration) (*net.TCPConn, error) {
	var c net.Conn
	err := ns.Do(func() (err error) {
		d := net.Dialer{Timeout: timeout, LocalAddr: net.TCPAddrFromAddrPort(local)}
		c, err = d.Dial("tcp", remote.String())
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// FirstWrite wraps a connection so that its first Write goes through fn
// (which writes to the connection itself however it likes).
func FirstWrite(c net.Conn, fn func(c *net.TCPConn, b []byte) error) net.Conn {
	return &firstWrite{Conn: c, fn: fn}
}

type firstWrite struct {
	net.Conn
	fn   func(c *net.TCPConn, b []byte) error
	done bool
}

func (f *firstWrite) Write(b []byte) (int, error) {
	if f.done {
		return f.Conn.Write(b)
	}
	f.done = true
	if err := f.fn(f.Conn.(*net.TCPConn), b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// WriteParts writes b in pieces cut at the positions, one write each
// (TCP_NODELAY, Go's default, sends each at once: the kernel's TCP with
// the split forced).
func WriteParts(c net.Conn, b []byte, cuts ...int) error {
	prev := 0
	for _, p := range append(cuts, len(b)) {
		p = max(prev, min(p, len(b)))
		if p > prev {
			if _, err := c.Write(b[prev:p]); err != nil {
				return err
			}
			// Let the segment leave before the next write joins it.
			time.Sleep(2 * time.Millisecond)
		}
		prev = p
	}
	return nil
}

// WriteOOB writes b[:p], one byte of TCP urgent data (MSG_OOB, RFC 9293
// §3.8.5) and b[p:]. A Linux receiver without SO_OOBINLINE takes the
// urgent byte out of the stream, so the application reads b unchanged; a
// middlebox that keeps it sees one byte more at p.
func WriteOOB(c *net.TCPConn, b []byte, p int) error {
	p = max(0, min(p, len(b)))
	if _, err := c.Write(b[:p]); err != nil {
		return err
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Write(func(fd uintptr) bool {
		_, serr = unix.SendmsgN(int(fd), []byte{'!'}, nil, nil, unix.MSG_OOB)
		return serr != unix.EAGAIN
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("send MSG_OOB: %w", serr)
	}
	_, err = c.Write(b[p:])
	return err
}

// TLSRecords rewrites a buffer that starts with one TLS handshake record
// (RFC 8446 §5.1: type 22, version, 16-bit length) into several records
// whose fragments are cut at the given offsets into the handshake data,
// as zapret's tlsrec and ByeDPI's --tlsrec do. It returns the records'
// bytes and where each record starts.
func TLSRecords(b []byte, cuts ...int) ([]byte, []int) {
	if len(b) < 5 || b[0] != 22 {
		return b, nil
	}
	n := int(b[3])<<8 | int(b[4])
	if len(b) < 5+n {
		return b, nil
	}
	body := b[5 : 5+n]
	var out []byte
	var starts []int
	prev := 0
	for _, p := range append(cuts, n) {
		p = max(prev, min(p, n))
		if p == prev {
			continue
		}
		starts = append(starts, len(out))
		out = append(out, 22, b[1], b[2], byte((p-prev)>>8), byte(p-prev))
		out = append(out, body[prev:p]...)
		prev = p
	}
	return append(out, b[5+n:]...), starts
}

// HostIndex finds name in b ignoring ASCII case, -1 if absent.
func HostIndex(b []byte, name string) int {
	return ascii.Index(b, strings.ToLower(name))
}

// TLSGet runs a TLS handshake (Go crypto/tls with conf: roots, SNI...)
// over a connection from local to server, optionally wrapped, then one
// HTTP/1.1 GET for host; it returns the response body.
func TLSGet(ns NS, local, server netip.AddrPort, conf *tls.Config, host string,
	wrap func(net.Conn) net.Conn, timeout time.Duration) (string, error) {
	tc, err := ns.DialFrom(local, server, timeout)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(timeout))
	var c net.Conn = tc
	if wrap != nil {
		c = wrap(c)
	}
	tl := tls.Client(c, conf)
	if err := tl.Handshake(); err != nil {
		return "", fmt.Errorf("handshake: %w", err)
	}
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	if _, err := tl.Write([]byte(req)); err != nil {
		return "", err
	}
	return readBody(tl)
}

// HTTPExchange sends a raw HTTP request (written through write when
// given, else in one write) from local to server and returns the body of
// the response after the first skip ones.
func HTTPExchange(ns NS, local, server netip.AddrPort, req []byte,
	write func(c *net.TCPConn, b []byte) error, skip int, timeout time.Duration) (string, error) {
	c, err := ns.DialFrom(local, server, timeout)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if write == nil {
		_, err = c.Write(req)
	} else {
		err = write(c, req)
	}
	if err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	for range skip {
		if _, err := readBody(br); err != nil {
			return "", err
		}
	}
	return readBody(br)
}

// ReadResponse reads one HTTP response from c and returns its body. It
// may read ahead: use it where the server sends nothing more until asked
// again.
func ReadResponse(c io.Reader) (string, error) { return readBody(c) }

func readBody(c io.Reader) (string, error) {
	br, ok := c.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(c)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", fmt.Errorf("no response: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return string(b), err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %s: %s", resp.Status, b)
	}
	return string(b), nil
}

// StartHTTP serves plain HTTP on the WAN host's port 80, answering
// "hello <Host as the server understood it>".
func (t *Topology) StartHTTP(tb testing.TB) netip.AddrPort {
	tb.Helper()
	ln := t.WAN.Listen(tb, "tcp", ":80")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello %s", r.Host)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return netip.AddrPortFrom(t.WANAddr, 80)
}

// QUICEchoFrom is QUICEcho from a fixed local address and port (the port
// selects the desync strategy).
func (a *Apps) QUICEchoFrom(ns NS, local netip.AddrPort, host string, timeout time.Duration) error {
	var pc net.PacketConn
	err := ns.Do(func() (err error) {
		pc, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(local))
		return err
	})
	if err != nil {
		return err
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conf := &tls.Config{RootCAs: a.PKI.Roots, ServerName: host, NextProtos: []string{quicALPN}}
	c, err := quic.Dial(ctx, pc, net.UDPAddrFromAddrPort(a.QUIC), conf, &quic.Config{HandshakeIdleTimeout: timeout})
	if err != nil {
		return err
	}
	defer c.CloseWithError(0, "")
	s, err := c.OpenStreamSync(ctx)
	if err != nil {
		return err
	}
	msg := []byte("hello over quic\n")
	if _, err := s.Write(msg); err != nil {
		return err
	}
	s.Close()
	s.SetReadDeadline(time.Now().Add(timeout))
	got, err := io.ReadAll(s)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("quic echo returned %q", got)
	}
	return nil
}
