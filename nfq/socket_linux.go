//go:build linux

package nfq

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// nlSocket is a NETLINK_NETFILTER socket driven through the runtime's
// poller: reads park the goroutine instead of a thread, and a read
// deadline wakes the owner for housekeeping or to stop.
type nlSocket struct {
	fd   int
	file *os.File
	rc   syscall.RawConn
	seq  uint32
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
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
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
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("netlink nonblock: %w", err)
	}
	f := os.NewFile(uintptr(fd), "netlink")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		ok = true // closed by f
		return nil, fmt.Errorf("netlink raw conn: %w", err)
	}
	ok = true
	return &nlSocket{fd: fd, file: f, rc: rc}, nil
}

func (s *nlSocket) close() error { return s.file.Close() }

// write sends one datagram of netlink messages to the kernel. The kernel
// handles them synchronously, in order, inside this call, so a netlink
// write to the kernel does not block on buffer space; the fd is used
// directly so the fast path allocates nothing.
func (s *nlSocket) write(b []byte) error {
	for {
		_, err := unix.Write(s.fd, b)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return err
	}
}

// readOne reads one datagram into buf, waiting up to timeout.
func (s *nlSocket) readOne(buf []byte, timeout time.Duration) (int, error) {
	if err := s.file.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return 0, err
	}
	defer s.file.SetReadDeadline(time.Time{})
	var n int
	var rerr error
	err := s.rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
		return rerr != unix.EAGAIN && rerr != unix.EINTR
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
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
		n, err := s.readOne(buf, 3*time.Second)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return errors.New("no answer from the kernel within 3s")
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
	n    int
	err  error
	read func(fd uintptr) bool // bound once so a read allocates nothing
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
	b.read = b.readFD
	return b
}

func (b *mmsgBatch) readFD(fd uintptr) bool {
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])),
			uintptr(len(b.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			b.n, b.err = int(r), nil
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // park until readable
		default:
			b.n, b.err = 0, e
			return true
		}
	}
}

// recv fills the batch with as many datagrams as are waiting (at least
// one), parking until one arrives or the socket's read deadline passes.
func (s *nlSocket) recv(b *mmsgBatch) (int, error) {
	b.n, b.err = 0, nil
	if err := s.rc.Read(b.read); err != nil {
		return 0, err
	}
	return b.n, b.err
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
