//go:build linux

package harness

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var buildUDPLoad = goBuildOnce("ips/test/tools/udpload", "udpload")

// udpload builds test/tools/udpload once per test process.
func udpload(t testing.TB) string {
	t.Helper()
	p, err := buildUDPLoad()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// UDPLoad is a stream of small UDP packets from many flows: the load for
// the queue speed and latency measurements.
type UDPLoad struct {
	Src netip.Addr // IPv4 source (a LAN address)
	Dst netip.AddrPort
	// Ports source ports are cycled; each flow gets PerFlow packets in a
	// row before the next port (2: one flow per packet pair).
	Ports, PerFlow int
	Payload        int     // bytes of UDP payload (at least 8: a send timestamp)
	Rate           float64 // packets per second, paced evenly; 0: as fast as possible
	Duration       time.Duration
	// Srcs source addresses, from Src up, are cycled too (the address
	// changes every flow): Ports×Srcs distinct flows. 0 or 1: Src only.
	Srcs int
	// Packets stops the load after that many packets (0: Duration only).
	Packets uint64
}

func (l UDPLoad) args() []string {
	return []string{"send", "-src", l.Src.String(), "-dst", l.Dst.String(),
		"-ports", strconv.Itoa(max(l.Ports, 1)), "-per-flow", strconv.Itoa(max(l.PerFlow, 1)),
		"-payload", strconv.Itoa(l.Payload), "-rate", strconv.FormatFloat(l.Rate, 'f', 0, 64),
		"-duration", l.Duration.String(), "-srcs", strconv.Itoa(max(l.Srcs, 1)),
		"-packets", strconv.FormatUint(l.Packets, 10)}
}

// SendUDP runs the generator in the namespace, in its own process, and
// returns how many packets it sent.
func (ns NS) SendUDP(t testing.TB, l UDPLoad) uint64 {
	t.Helper()
	out, err := ns.Run(udpload(t), l.args()...)
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "sent %d", &n); err != nil {
		t.Fatalf("udpload said %q", out)
	}
	return n
}

// Sink is a udpload sink process: it counts the packets arriving on a
// port and the latency of each from the timestamp in its payload.
type Sink struct {
	cmd *exec.Cmd
	out *bufio.Reader
}

// StartUDPSink runs a sink on port in the namespace.
func (ns NS) StartUDPSink(t testing.TB, port int) *Sink {
	t.Helper()
	cmd := ns.Cmd(udpload(t), "sink", "-port", strconv.Itoa(port))
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); pw.Close() }()
	s := &Sink{cmd: cmd, out: bufio.NewReader(pr)}
	if line, err := s.out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("udpload sink: %q %v", line, err)
	}
	return s
}

// Latency summarises a sink's latencies.
type Latency struct {
	Received      uint64
	P50, P99, Max time.Duration
}

func (l Latency) String() string {
	return fmt.Sprintf("received %d, p50 %v, p99 %v, max %v", l.Received, l.P50, l.P99, l.Max)
}

// Stop ends the sink (after in-flight packets land) and returns its
// figures.
func (s *Sink) Stop(t testing.TB) Latency {
	t.Helper()
	time.Sleep(50 * time.Millisecond)
	s.cmd.Process.Signal(syscall.SIGTERM)
	line, err := s.out.ReadString('\n')
	if err != nil {
		t.Fatalf("udpload sink: %v", err)
	}
	var l Latency
	var p50, p99, mx int64
	if _, err := fmt.Sscanf(strings.TrimSpace(line), "received %d p50 %d p99 %d max %d", &l.Received, &p50, &p99, &mx); err != nil {
		t.Fatalf("udpload sink said %q", line)
	}
	l.P50, l.P99, l.Max = time.Duration(p50), time.Duration(p99), time.Duration(mx)
	return l
}
