//go:build linux

package e2e

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"ips/internal/tcpcraft"
	"ips/nfq"
	"ips/test/harness"
	"ips/verdict"
)

// csumRecorder is a decider that records, per TCP packet, whether the
// queue flagged its checksum unverified and whether it is right.
type csumRecorder struct {
	mu   sync.Mutex
	seen []csumSeen
}

type csumSeen struct {
	dstPort    uint16
	unverified bool
	valid      bool
}

func (r *csumRecorder) Decide(p *verdict.Packet) verdict.Decision {
	b := p.Data
	if len(b) < 40 || b[0]>>4 != 4 || b[9] != 6 {
		return verdict.Decision{}
	}
	ihl := int(b[0]&15) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if total > len(b) || ihl+20 > total {
		return verdict.Decision{}
	}
	seg := b[ihl:total]
	src, dst := netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
	s := csumSeen{dstPort: binary.BigEndian.Uint16(seg[2:]), unverified: p.ChecksumUnverified,
		valid: tcpcraft.Checksum(src, dst, seg) == binary.BigEndian.Uint16(seg[16:])}
	r.mu.Lock()
	r.seen = append(r.seen, s)
	r.mu.Unlock()
	return verdict.Decision{} // undecided: keep queueing
}

func (r *csumRecorder) Revise(func(verdict.Tuple, verdict.Decision)) {}

// TestChecksumFlagsThroughBridge checks, on a real bridge, what the
// stream normaliser relies on: packets a kernel socket sends (checksum
// offloaded on veth) are not flagged unverified, so they are never judged
// by a checksum that is not computed yet; packets a raw socket sends with
// a checksum of its own (right or wrong) are flagged, so a bad one is
// caught.
func TestChecksumFlagsThroughBridge(t *testing.T) {
	topo := harness.NewTopology(t)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
	rec := &csumRecorder{}
	layout, _ := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	topo.StartInline(t, nfq.Config{Queues: 1, Layout: layout, NewDecider: func(uint16) verdict.Decider { return rec }})
	if err := harness.EchoOnce(topo.LAN, topo.LAN4(0), topo.WANAddr.String()+":8080", 2*time.Second); err != nil {
		t.Fatalf("echo through the bridge: %v", err)
	}
	c := tcpcraft.New(netip.AddrPortFrom(topo.LAN4(0), 40001).String(), netip.AddrPortFrom(topo.WANAddr, 8081).String())
	good := c.Build(c.Data(tcpcraft.ToServer, 0, []byte("good checksum")))
	bad := c.Data(tcpcraft.ToServer, 13, []byte("bad checksum"))
	bad.BadSum = true
	err := topo.LAN.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrInet4{Addr: topo.WANAddr.As4()}
		for _, b := range [][]byte{good, c.Build(bad)} {
			if err := unix.Sendto(fd, b, 0, to); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("raw socket: %v", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	var kernel, rawGood, rawBad []csumSeen
	for time.Now().Before(deadline) {
		rec.mu.Lock()
		kernel, rawGood, rawBad = nil, nil, nil
		for _, s := range rec.seen {
			switch {
			case s.dstPort == 8081 && s.valid:
				rawGood = append(rawGood, s)
			case s.dstPort == 8081:
				rawBad = append(rawBad, s)
			default:
				kernel = append(kernel, s)
			}
		}
		rec.mu.Unlock()
		if len(rawGood) > 0 && len(rawBad) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(kernel) == 0 || len(rawGood) != 1 || len(rawBad) != 1 {
		t.Fatalf("queued: %d kernel packets, %d raw good, %d raw bad; want some, 1, 1", len(kernel), len(rawGood), len(rawBad))
	}
	for i, s := range kernel {
		if s.unverified && !s.valid {
			t.Errorf("kernel packet %d (to port %d): flagged unverified with a checksum that is not right: the engine would ignore it", i, s.dstPort)
		}
	}
	if !rawBad[0].unverified {
		t.Errorf("raw packet with a bad checksum not flagged unverified: the engine would trust it")
	}
	if !rawGood[0].unverified {
		t.Logf("raw packet with a good checksum not flagged unverified (verified by the kernel)")
	}
	t.Logf("kernel packets %d (unverified %d), raw good unverified %v, raw bad unverified %v",
		len(kernel), count(kernel), rawGood[0].unverified, rawBad[0].unverified)
}

func count(s []csumSeen) int {
	n := 0
	for _, x := range s {
		if x.unverified {
			n++
		}
	}
	return n
}
