//go:build linux

package e2e

import (
	"net/netip"
	"testing"
	"time"

	"ips/nfq"
	"ips/test/harness"
	"ips/verdict"
)

// An overloaded worker (a decider far slower than the load, a short
// kernel queue and a small socket buffer) is never fatal: the kernel
// applies the fail mode to what does not fit (fail-open: accepted
// uninspected; fail-closed: dropped), the counters say so, and the daemon
// goes on deciding.
func TestOverloadFollowsFailMode(t *testing.T) {
	for _, mode := range []verdict.FailMode{verdict.FailOpen, verdict.FailClosed} {
		t.Run(mode.String(), func(t *testing.T) {
			topo := harness.NewTopology(t)
			harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
			decs := harness.NewPortDeciders(harness.PortPolicy{Never: true, Slow: 2 * time.Millisecond})
			layout, _ := verdict.NewMarkLayout(verdict.DefaultMarkMask)
			d := topo.StartInline(t, nfq.Config{Queues: 1, Layout: layout, Fail: mode, MaxQueueLen: 64,
				RcvBuf: 64 << 10, NewDecider: decs.New})
			sink := topo.WAN.StartUDPSink(t, 9999)
			sent := topo.LAN.SendUDP(t, harness.UDPLoad{Src: topo.LAN4(0), Dst: netip.AddrPortFrom(topo.WANAddr, 9999),
				Ports: 512, PerFlow: 2, Payload: 64, Rate: 20000, Duration: time.Second})
			got := sink.Stop(t).Received
			s := d.Stats()[0]
			t.Logf("%s: sent %d, delivered %d, decided by ips %d, kernel queue dropped %d, user dropped %d, ENOBUFS %d",
				mode, sent, got, s.Packets, s.Kernel.Dropped, s.Kernel.UserDropped, s.ENOBUFS)
			if s.Packets >= sent/2 {
				t.Fatalf("the worker was not overloaded (%d of %d packets decided)", s.Packets, sent)
			}
			switch mode {
			case verdict.FailOpen:
				if got < sent*9/10 {
					t.Errorf("fail-open overload: only %d of %d packets delivered", got, sent)
				}
			case verdict.FailClosed:
				if got > sent/2 {
					t.Errorf("fail-closed overload: %d of %d packets delivered", got, sent)
				}
				if s.Kernel.Dropped+s.Kernel.UserDropped == 0 {
					t.Error("fail-closed overload: the kernel's drop counters stayed 0")
				}
			}
			// Still deciding once the load is gone.
			decs.Set(harness.PortPolicy{Default: verdict.Pass})
			time.Sleep(300 * time.Millisecond) // the backlog drains
			if err := harness.EchoOnce(topo.LAN, topo.LAN4(1), topo.WANAddr.String()+":8080", 3*time.Second); err != nil {
				t.Errorf("after the overload: %v", err)
			}
		})
	}
}
