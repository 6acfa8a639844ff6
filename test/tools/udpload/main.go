//go:build linux

// Command udpload is the load generator and sink of the queue speed and
// latency measurements: its own process, so neither competes with the
// daemon's runtime.
//
//	udpload send -src 10.77.0.2 -dst 10.77.0.200:9999 [-ports 8192] [-srcs 1] [-per-flow 2] [-payload 64] [-rate PPS] [-packets N] -duration 2s
//	udpload sink -port 9999
//
// send prints "sent N". sink runs until SIGTERM/SIGINT, then prints
// "received N p50 NS p99 NS max NS" (latencies from the CLOCK_MONOTONIC
// send time each payload starts with; namespaces share that clock).
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: udpload send|sink [flags]")
		os.Exit(2)
	}
	runtime.LockOSThread()
	var err error
	switch os.Args[1] {
	case "send":
		err = send(os.Args[2:])
	case "sink":
		err = sink(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpload:", err)
		os.Exit(1)
	}
}

func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

func send(args []string) error {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	src := fs.String("src", "", "IPv4 source address")
	dstS := fs.String("dst", "", "destination address:port")
	ports := fs.Int("ports", 8192, "source ports cycled")
	perFlow := fs.Int("per-flow", 2, "packets per flow before the next source port")
	payload := fs.Int("payload", 64, "UDP payload bytes (>= 8)")
	rate := fs.Float64("rate", 0, "packets per second, paced; 0: as fast as possible")
	dur := fs.Duration("duration", 2*time.Second, "how long to send")
	srcs := fs.Int("srcs", 1, "source addresses cycled, from -src up (the address changes every flow, the port every srcs flows): ports×srcs distinct flows")
	limit := fs.Uint64("packets", 0, "stop after this many packets (0: only -duration stops)")
	fs.Parse(args)
	s, err := netip.ParseAddr(*src)
	if err != nil {
		return err
	}
	dst, err := netip.ParseAddrPort(*dstS)
	if err != nil {
		return err
	}
	*payload = max(*payload, 8)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return fmt.Errorf("raw socket: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	const batch = 32
	size := 28 + *payload
	bufs := make([][]byte, batch)
	iovs := make([]unix.Iovec, batch)
	hdrs := make([]unix.Mmsghdr, batch)
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.Addr().As4()}
	for i := range bufs {
		b := make([]byte, size)
		// RFC 791 header (the kernel fills in the checksum for
		// IP_HDRINCL) and RFC 768 header (checksum 0: none, IPv4).
		b[0] = 0x45
		binary.BigEndian.PutUint16(b[2:4], uint16(size))
		b[8], b[9] = 64, unix.IPPROTO_UDP
		s4, d4 := s.As4(), dst.Addr().As4()
		copy(b[12:16], s4[:])
		copy(b[16:20], d4[:])
		binary.BigEndian.PutUint16(b[22:24], dst.Port())
		binary.BigEndian.PutUint16(b[24:26], uint16(8+*payload))
		bufs[i] = b
		iovs[i].Base = &b[0]
		iovs[i].SetLen(size)
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
		hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&sa))
		hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
	}
	var seq, sent uint64
	base := binary.BigEndian.Uint32(s.AsSlice())
	*srcs = max(*srcs, 1)
	// Source ports from 10000 up; more than fit there start at 1024.
	portBase := uint64(10000)
	if *ports > 65536-10000 {
		*ports = min(*ports, 65536-1024)
		portBase = 1024
	}
	fill := func(n int) {
		now := monoNow()
		for i := 0; i < n; i++ {
			b := bufs[i]
			flow := (seq / uint64(*perFlow)) % (uint64(*ports) * uint64(*srcs))
			port, host := flow/uint64(*srcs), flow%uint64(*srcs)
			binary.BigEndian.PutUint16(b[4:6], uint16(seq))
			binary.BigEndian.PutUint32(b[12:16], base+uint32(host))
			binary.BigEndian.PutUint16(b[20:22], uint16(portBase+port))
			binary.BigEndian.PutUint64(b[28:36], uint64(now))
			seq++
		}
	}
	sendN := func(n int) {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(n), 0, 0, 0)
		if e == 0 {
			sent += uint64(r)
		}
	}
	start := monoNow()
	end := start + int64(*dur)
	more := func() bool { return *limit == 0 || seq < *limit }
	if *rate <= 0 {
		for more() && monoNow() < end {
			n := batch
			if *limit != 0 {
				n = int(min(uint64(batch), *limit-seq))
			}
			fill(n)
			sendN(n)
		}
	} else {
		// Paced: each packet at its due time, sleeping with an absolute
		// clock_nanosleep and 1 ns timer slack, so the generator does not
		// burn a CPU the measured path needs.
		_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
		interval := int64(float64(time.Second) / *rate)
		next := start
		for more() {
			now := monoNow()
			if now >= end {
				break
			}
			if now < next {
				ts := unix.NsecToTimespec(next)
				unix.Syscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_MONOTONIC, 1 /* TIMER_ABSTIME */, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
			}
			fill(1)
			sendN(1)
			next += interval
			if now-next > int64(10*time.Millisecond) {
				next = now // descheduled: do not burst to catch up
			}
		}
	}
	fmt.Printf("sent %d\n", sent)
	return nil
}

func sink(args []string) error {
	fs := flag.NewFlagSet("sink", flag.ExitOnError)
	port := fs.Int("port", 9999, "UDP port")
	fs.Parse(args)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: *port}); err != nil {
		return err
	}
	var stop atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; stop.Store(true) }()
	fmt.Println("ready")
	const batch = 64
	bufs := make([][]byte, batch)
	iovs := make([]unix.Iovec, batch)
	hdrs := make([]unix.Mmsghdr, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(2048)
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
	}
	lats := make([]int64, 0, 1<<20)
	var count uint64
	for !stop.Load() {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), batch, unix.MSG_WAITFORONE, 0, 0)
		if e != 0 {
			continue
		}
		now := monoNow()
		for i := 0; i < int(r); i++ {
			if hdrs[i].Len >= 8 && len(lats) < 1<<24 {
				lats = append(lats, now-int64(binary.BigEndian.Uint64(bufs[i][0:8])))
			}
		}
		count += uint64(r)
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	pct := func(p float64) int64 {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(p*float64(len(lats))))]
	}
	var mx int64
	if len(lats) > 0 {
		mx = lats[len(lats)-1]
	}
	fmt.Printf("received %d p50 %d p99 %d max %d\n", count, pct(0.5), pct(0.99), mx)
	return nil
}
