//go:build linux

package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// Listen opens a listener inside the namespace; it keeps working from any
// goroutine. It is closed when the test ends.
func (ns NS) Listen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	err := ns.Do(func() (err error) {
		ln, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// ListenPacket opens a packet listener inside the namespace.
func (ns NS) ListenPacket(t testing.TB, network, addr string) net.PacketConn {
	t.Helper()
	var pc net.PacketConn
	err := ns.Do(func() (err error) {
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// Dialer dials from inside the namespace, from a chosen local address.
func (ns NS) Dialer(local netip.Addr, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := ns.Do(func() (err error) {
			d := net.Dialer{Timeout: timeout}
			if local.IsValid() {
				switch network {
				case "udp", "udp4", "udp6":
					d.LocalAddr = &net.UDPAddr{IP: local.AsSlice()}
				default:
					d.LocalAddr = &net.TCPAddr{IP: local.AsSlice()}
				}
			}
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// Dial connects from the namespace with a timeout.
func (ns NS) Dial(network string, local netip.Addr, addr string, timeout time.Duration) (net.Conn, error) {
	return ns.Dialer(local, timeout)(context.Background(), network, addr)
}

// Serve accepts connections until the listener closes, handling each in
// its own goroutine.
func Serve(ln net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// Echo copies what it reads back.
func Echo(c net.Conn) { io.Copy(c, c) }

// Download writes n bytes (after reading a one-line request) and closes.
func Download(size int64) func(net.Conn) {
	return func(c net.Conn) {
		n := size
		buf := make([]byte, 1)
		if _, err := c.Read(buf); err != nil {
			return
		}
		chunk := make([]byte, 256<<10)
		for n > 0 {
			w := min(n, int64(len(chunk)))
			if _, err := c.Write(chunk[:w]); err != nil {
				return
			}
			n -= w
		}
	}
}

// Fetch asks a Download server for its bytes and returns how many
// arrived and the throughput.
func Fetch(ns NS, local netip.Addr, addr string, timeout time.Duration) (int64, float64, error) {
	c, err := ns.Dial("tcp", local, addr, 3*time.Second)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	start := time.Now()
	if _, err := c.Write([]byte{'\n'}); err != nil {
		return 0, 0, err
	}
	// A large read buffer keeps the reader from being the bottleneck of
	// what is meant to measure the path. The wrappers hide io.Discard's
	// ReadFrom (8 KiB reads) and the conn's WriteTo from io.CopyBuffer.
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{c}, make([]byte, 1<<20))
	el := time.Since(start).Seconds()
	return n, float64(n) / el, err
}

// EchoOnce connects, writes a line and waits for it back.
func EchoOnce(ns NS, local netip.Addr, addr string, timeout time.Duration) error {
	c, err := ns.Dial("tcp", local, addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	msg := []byte("hello ips\n")
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != string(msg) {
		return fmt.Errorf("echo returned %q", got)
	}
	return nil
}

// Pinger keeps an echo connection busy: every interval it writes a byte
// and waits for it back, recording when the last echo arrived.
type Pinger struct {
	mu      sync.Mutex
	last    time.Time
	err     error
	stop    chan struct{}
	stopped chan struct{}
}

// StartPinger opens the connection and starts the exchange.
func StartPinger(ns NS, local netip.Addr, addr string, every time.Duration) (*Pinger, error) {
	c, err := ns.Dial("tcp", local, addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	p := &Pinger{last: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(p.stopped)
		defer c.Close()
		b := []byte{'x'}
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(every):
			}
			c.SetDeadline(time.Now().Add(every * 5))
			_, err := c.Write(b)
			if err == nil {
				_, err = io.ReadFull(c, b)
			}
			p.mu.Lock()
			if err != nil {
				if p.err == nil {
					p.err = err
				}
				if !errors.Is(err, errTimeout) && !isTimeout(err) {
					p.mu.Unlock()
					return
				}
			} else {
				p.last = time.Now()
			}
			p.mu.Unlock()
		}
	}()
	return p, nil
}

var errTimeout = errors.New("timeout")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// LastEcho is when the last echo came back.
func (p *Pinger) LastEcho() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// Stop ends the exchange.
func (p *Pinger) Stop() {
	close(p.stop)
	<-p.stopped
}
