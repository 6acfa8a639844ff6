//go:build linux

package nfq

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// nlSocket is a blocking netlink socket with a receive timeout. Queue
// workers block in recvmmsg on their own OS thread the way a C consumer
// blocks in recv: the kernel wakes the thread directly when a packet is
// queued, with no poller round trip (measured: the runtime poller's
// EAGAIN + epoll + goroutine wake-up halved the rate on a loaded 2-core
// machine). The timeout bounds how long a worker takes to notice a
// request (revise, stop) while no traffic arrives.
type nlSocket struct {
	fd      int
	closed  atomic.Bool
	timeout time.Duration
}

// openNetfilter opens and binds a NETLINK_NETFILTER socket in the calling
// thread's network namespace.
func openNetfilter(rcvBuf int) (*nlSocket, error) {
	return openNetlink(unix.NETLINK_NETFILTER, rcvBuf)
}

// openNetlink opens and binds a netlink socket of the given protocol in
// the calling thread's network namespace; the socket stays in that
// namespace whichever thread uses it later.
func openNetlink(proto, rcvBuf int) (*nlSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	// Errors carry only the failed message's header, not its body.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	if rcvBuf > 0 {
		// SO_RCVBUFFORCE passes net.core.rmem_max (we run with
		// CAP_NET_ADMIN); fall back to the capped SO_RCVBUF.
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
		}
	}
	s := &nlSocket{fd: fd}
	if err := s.setTimeout(3 * time.Second); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return s, nil
}

func (s *nlSocket) setTimeout(d time.Duration) error {
	if d == s.timeout {
		return nil
	}
	tv := unix.NsecToTimeval(int64(d))
	if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("netlink receive timeout: %w", err)
	}
	s.timeout = d
	return nil
}

func (s *nlSocket) close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return unix.Close(s.fd)
}

// errTimeout is a receive that waited the socket's timeout for nothing.
var errTimeout = errors.New("netlink receive timeout")

// write sends one datagram of netlink messages to the kernel. The kernel
// handles them synchronously, in order, inside this call.
func (s *nlSocket) write(b []byte) error {
	for {
		_, err := unix.Write(s.fd, b)
		if err == unix.EINTR {
			continue
		}
		return err
	}
}

// readOne reads one datagram into buf, waiting up to the socket timeout.
func (s *nlSocket) readOne(buf []byte) (int, error) {
	for {
		n, _, err := unix.Recvfrom(s.fd, buf, 0)
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, errTimeout
		}
		return 0, err
	}
}

// request sends messages that each ask for an ack and waits for as many
// acks, returning the first error the kernel reports. Other messages that
// arrive meanwhile go to other (e.g. queued packets); it may be nil.
func (s *nlSocket) request(b []byte, acks int, other func([]byte)) error {
	if err := s.write(b); err != nil {
		return err
	}
	buf := make([]byte, 1<<16+4096)
	var first error
	for acks > 0 {
		n, err := s.readOne(buf)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				continue
			}
			if errors.Is(err, errTimeout) {
				return fmt.Errorf("no answer from the kernel within %v", s.timeout)
			}
			return err
		}
		d := buf[:n]
		for {
			m, rest, ok := nextMsg(d)
			if !ok {
				break
			}
			if m.typ == nlmsgError {
				acks--
				if e, ok := errnoOf(m.body); ok && e != 0 && first == nil {
					first = syscall.Errno(e)
				}
			} else if other != nil {
				other(d[:nlmsgHdrLen+len(m.body)])
			}
			d = rest
		}
	}
	return first
}

// mmsgBatch is a reusable recvmmsg(2) vector: one buffer per datagram.
type mmsgBatch struct {
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
	bufs [][]byte
}

func newMmsgBatch(count, size int) *mmsgBatch {
	b := &mmsgBatch{
		hdrs: make([]unix.Mmsghdr, count),
		iovs: make([]unix.Iovec, count),
		bufs: make([][]byte, count),
	}
	slab := make([]byte, count*size)
	for i := range b.bufs {
		b.bufs[i] = slab[i*size : (i+1)*size : (i+1)*size]
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(size)
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
	}
	return b
}

// recv waits (up to the socket timeout) for at least one datagram, then
// takes as many more as are already waiting, up to the batch size
// (MSG_WAITFORONE). It returns errTimeout when nothing came.
func (s *nlSocket) recv(b *mmsgBatch, wait bool) (int, error) {
	flags := uintptr(unix.MSG_WAITFORONE)
	if !wait {
		flags = unix.MSG_DONTWAIT
	}
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&b.hdrs[0])),
			uintptr(len(b.hdrs)), flags, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, errTimeout
		}
		return 0, e
	}
}

// datagram returns the i-th datagram of the last recv and whether the
// kernel truncated it to the buffer.
func (b *mmsgBatch) datagram(i int) ([]byte, bool) {
	h := &b.hdrs[i]
	n := int(h.Len)
	if n > len(b.bufs[i]) {
		n = len(b.bufs[i])
	}
	return b.bufs[i][:n], h.Hdr.Flags&unix.MSG_TRUNC != 0
}
