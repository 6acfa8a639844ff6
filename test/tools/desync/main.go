//go:build linux

// Command desync is the evasion suite's client-side desynchroniser, in
// the spirit of the public anti-censorship tools (zapret's nfqws,
// GoodbyeDPI): it runs in the LAN host's namespace, takes the host's own
// outgoing TCP segments from an NFQUEUE, and rewrites the first data
// segment of each flow (the TLS ClientHello or HTTP request) with one
// strategy: splits, disorder, decoys made for the server to drop,
// sequence overlaps, resets, data in the SYN, IP fragments. It sends the
// result itself through an AF_PACKET socket and drops the original;
// everything else passes. The kernel's TCP stays in charge of the
// connection, so the client is any ordinary program.
//
//	desync run -queue N -ports LO-HI -map FILE [-dev eth0] [-gw-mac MAC]
//	desync hops -below N
//
// run: the map file has one "PORT SPEC" line per client source port (see
// spec for the strategies); it prints "ready" once the queue is bound and
// the rule installed, and runs until SIGTERM.
//
// quicdisorder (UDP): the client's first datagram is held back until its
// second has gone (QUIC: a ClientHello too big for one Initial packet
// arrives second half first). quicreorder, quicshuffle: the first Initial's
// CRYPTO frames rewritten (see quic.go).
//
// hops: installs a rule dropping packets whose TTL is below N, standing in
// for the routers a bridge does not have (for the TTL decoys), then exits.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type heldDatagram struct {
	id    uint32
	timer *time.Timer
}

// udpSource is the source port of an unfragmented IPv4 UDP packet.
func udpSource(b []byte) (uint16, bool) {
	if len(b) < 28 || b[0]>>4 != 4 || b[9] != 17 {
		return 0, false
	}
	ihl := int(b[0]&0xf) * 4
	if len(b) < ihl+8 {
		return 0, false
	}
	return uint16(b[ihl])<<8 | uint16(b[ihl+1]), true
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: desync run|hops [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "hops":
		fs := flag.NewFlagSet("hops", flag.ExitOnError)
		below := fs.Int("below", 5, "drop packets with a TTL below this")
		fs.Parse(os.Args[2:])
		err = installHops(uint8(*below))
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "desync:", err)
		os.Exit(1)
	}
}

func readMap(path string) (map[uint16]spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[uint16]spec{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || t[0] == '#' {
			continue
		}
		ps, ss, ok := strings.Cut(t, " ")
		port, err := strconv.ParseUint(ps, 10, 16)
		if !ok || err != nil {
			return nil, fmt.Errorf("%s:%d: want PORT SPEC", path, line)
		}
		sp, err := parseSpec(ss)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		m[uint16(port)] = sp
	}
	return m, sc.Err()
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	qnum := fs.Int("queue", 7, "NFQUEUE number")
	ports := fs.String("ports", "20000-29999", "client source ports to queue")
	mapFile := fs.String("map", "", "file of PORT SPEC lines")
	dev := fs.String("dev", "eth0", "interface the crafted packets leave by")
	gwMAC := fs.String("gw-mac", "", "link address of the next hop (needed for IPv6)")
	fs.Parse(args)
	m, err := readMap(*mapFile)
	if err != nil {
		return err
	}
	los, his, _ := strings.Cut(*ports, "-")
	lo, err1 := strconv.ParseUint(los, 10, 16)
	hi, err2 := strconv.ParseUint(his, 10, 16)
	if err1 != nil || err2 != nil || lo > hi {
		return fmt.Errorf("bad -ports %q", *ports)
	}
	q, err := openQueue(uint16(*qnum))
	if err != nil {
		return err
	}
	var gw net.HardwareAddr
	if *gwMAC != "" {
		if gw, err = net.ParseMAC(*gwMAC); err != nil {
			return err
		}
	}
	out, err := openSender(*dev, gw)
	if err != nil {
		return err
	}
	if err := installQueueRule(uint16(*qnum), uint16(lo), uint16(hi)); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; removeQueueRule(); os.Exit(0) }()

	// Per source port: whether the strategy has been applied. Only the
	// first data segment is rewritten, like nfqws: a retransmission goes
	// out as the kernel made it.
	done := map[uint16]bool{}
	held := map[uint16]*heldDatagram{}
	var mu sync.Mutex // held, with the release timers
	fmt.Println("ready")
	return q.serve(func(id uint32, raw []byte) uint32 {
		if sport, ok := udpSource(raw); ok {
			sp, ok := m[sport]
			if !ok || !strings.HasPrefix(sp.name, "quic") {
				return nfAccept
			}
			mu.Lock()
			defer mu.Unlock()
			if done[sport] {
				return nfAccept
			}
			if sp.name != "quicdisorder" {
				done[sport] = true
				ihl := int(raw[0]&0xf) * 4
				dg, err := rewriteInitial(raw[ihl+8:], sp.name, sp.host)
				if err == nil {
					err = out.send(udpPacket(raw, dg))
				}
				if err != nil {
					fmt.Fprintf(os.Stderr, "desync: port %d %s: %v (sent as it was)\n", sport, sp.name, err)
					return nfAccept
				}
				fmt.Fprintf(os.Stderr, "desync: port %d %s: %d-byte Initial rewritten to %d bytes\n", sport, sp.name, len(raw)-ihl-8, len(dg))
				return nfDrop
			}
			h := held[sport]
			if h == nil {
				// The client's first datagram (its first Initial) waits
				// for the next one, at most 300 ms.
				h = &heldDatagram{id: id}
				held[sport] = h
				h.timer = time.AfterFunc(300*time.Millisecond, func() {
					mu.Lock()
					defer mu.Unlock()
					if !done[sport] {
						done[sport] = true
						q.verdict(h.id, nfAccept)
						fmt.Fprintf(os.Stderr, "desync: port %d quicdisorder: no second datagram, first released\n", sport)
					}
				})
				return nfHold
			}
			done[sport] = true
			h.timer.Stop()
			q.verdict(id, nfAccept)
			q.verdict(h.id, nfAccept)
			fmt.Fprintf(os.Stderr, "desync: port %d quicdisorder: second datagram sent before the first\n", sport)
			return nfHold
		}
		s, err := parse(raw)
		if err != nil {
			return nfAccept
		}
		sp, ok := m[s.sport]
		if !ok || done[s.sport] {
			return nfAccept
		}
		syn := s.flags&flagSYN != 0 && s.flags&flagACK == 0
		switch {
		case sp.name == "syndata" && syn:
		case sp.name != "syndata" && !syn && len(s.payload) > 0:
		default:
			return nfAccept
		}
		done[s.sport] = true
		p := sp.apply(s, raw)
		for _, pkt := range p.send {
			if err := out.send(pkt); err != nil {
				fmt.Fprintf(os.Stderr, "desync: port %d: send: %v\n", s.sport, err)
				return nfAccept
			}
		}
		fmt.Fprintf(os.Stderr, "desync: port %d %s: %d-byte segment, sent %d packets\n", s.sport, sp.name, len(s.payload), len(p.send))
		return p.verdict
	})
}
