//go:build linux

package e2e

import (
	"testing"
	"time"

	"ips/nfq"
	"ips/test/harness"
	"ips/verdict"
)

func TestPassDropByDecision(t *testing.T) {
	topo := harness.NewTopology(t)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":9090"), harness.Echo)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":9191"), harness.Echo)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":7070"), harness.Echo)
	decs := harness.NewPortDeciders(harness.PortPolicy{
		ByPort:    map[uint16]verdict.Action{9090: verdict.Drop, 9191: verdict.Reject},
		Decisions: map[uint16]verdict.Decision{7070: {Action: verdict.Shape, Class: 3}},
		Default:   verdict.Pass, After: 3})
	layout, _ := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	d := topo.StartInline(t, nfq.Config{Queues: 2, Layout: layout, NewDecider: decs.New})

	wan := topo.WANAddr.String()
	if err := harness.EchoOnce(topo.LAN, topo.LAN4(0), wan+":8080", 2*time.Second); err != nil {
		t.Fatalf("allowed flow: %v", err)
	}
	if err := harness.EchoOnce(topo.LAN, topo.LAN4(0), wan+":9090", time.Second); err == nil {
		t.Fatal("dropped flow worked")
	}
	start := time.Now()
	err := harness.EchoOnce(topo.LAN, topo.LAN4(0), wan+":9191", 2*time.Second)
	if err == nil {
		t.Fatal("rejected flow worked")
	}
	t.Logf("rejected flow failed after %v: %v", time.Since(start), err)
	if err := harness.EchoOnce(topo.LAN, topo.LAN4(0), wan+":7070", 2*time.Second); err != nil {
		t.Fatalf("shaped flow: %v", err)
	}
	v6 := "[" + topo.WANAddr6.String() + "]"
	if err := harness.EchoOnce(topo.LAN, topo.LANAddrs[3], v6+":8080", 2*time.Second); err != nil {
		t.Fatalf("allowed IPv6 flow: %v", err)
	}

	marks := map[uint16]uint32{}
	for _, c := range topo.Conntrack(t) {
		if c.Tuple.Proto == 6 {
			marks[c.Tuple.Dst.Port()] |= c.Mark
		}
	}
	for port, a := range map[uint16]verdict.Action{8080: verdict.Pass, 9090: verdict.Drop, 9191: verdict.Reject, 7070: verdict.Shape} {
		got, ok := layout.Decode(marks[port])
		if !ok || got.Action != a {
			t.Errorf("port %d: ct mark %#x decodes to %v %v, want %v", port, marks[port], got.Action, ok, a)
		}
	}
	for _, s := range d.Stats() {
		t.Logf("queue %d: %+v", s.Queue, s)
	}
	rc, err := d.RuleCounters()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rule counters: %+v", rc)
	// Packets after the decision: the shaped flow's went through its class
	// rule (skb priority 1:3), and nothing decided was queued again.
	if rc["ips:shape-class"].Packets == 0 || rc["ips:pass"].Packets == 0 || rc["ips:drop"].Packets == 0 {
		t.Errorf("decided-flow rules unused: %+v", rc)
	}
	var queued uint64
	for _, s := range d.Stats() {
		queued += s.Packets
	}
	if rc["ips:queue"].Packets != queued {
		t.Errorf("queue rule matched %d packets, the workers got %d", rc["ips:queue"].Packets, queued)
	}
	t.Log(topo.Bridge.MustRun(t, "nft", "list", "table", "inet", "ips"))
}
