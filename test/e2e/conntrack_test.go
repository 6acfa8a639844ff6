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

// Reload's ct mark rewrite finds an entry by the tuple the decider saw,
// in either direction (the kernel looks up both), changes only the bits under the mask, and counts
// entries that are gone.
func TestConntrackSetMarks(t *testing.T) {
	topo := harness.NewTopology(t)
	// Conntrack in the bridge namespace needs a rule that uses it.
	topo.Bridge.MustRun(t, "nft", "add table inet t; add chain inet t f { type filter hook forward priority 0; }; add rule inet t f ct state established accept")
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
	p, err := harness.StartPinger(topo.LAN, topo.LAN4(0), topo.WANAddr.String()+":8080", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	time.Sleep(200 * time.Millisecond)
	var flow verdict.Tuple
	for _, c := range topo.Conntrack(t) {
		if c.Tuple.Dst.Port() == 8080 {
			flow = c.Tuple
		}
	}
	if !flow.Src.IsValid() {
		t.Fatal("no conntrack entry for the connection")
	}
	gone := verdict.Tuple{Proto: 6, Src: netip.MustParseAddrPort("10.77.0.9:1"), Dst: flow.Dst}
	set := func(tu verdict.Tuple, mark uint32) nfq.MarkResult {
		var res nfq.MarkResult
		topo.Bridge.Do(func() error {
			c, err := nfq.OpenConntrack()
			if err != nil {
				return err
			}
			defer c.Close()
			res = c.SetMarks([]nfq.MarkUpdate{{Tuple: tu, Mark: mark, Mask: 0x00ff0000}, {Tuple: gone, Mark: mark, Mask: 0x00ff0000}})
			return nil
		})
		return res
	}
	markOf := func() uint32 {
		for _, c := range topo.Conntrack(t) {
			if c.Tuple == flow {
				return c.Mark
			}
		}
		t.Fatal("entry vanished")
		return 0
	}
	if r := set(flow, 0x00030000); r.Updated != 1 || r.ByReply != 0 || r.NotFound != 1 || r.Failed != 0 {
		t.Errorf("original tuple: %+v", r)
	}
	if m := markOf(); m != 0x00030000 {
		t.Errorf("mark %#x", m)
	}
	rev := verdict.Tuple{Proto: flow.Proto, Src: flow.Dst, Dst: flow.Src}
	if r := set(rev, 0x00050000); r.Updated != 1 || r.NotFound != 1 {
		t.Errorf("reversed tuple: %+v", r)
	}
	if m := markOf(); m != 0x00050000 {
		t.Errorf("mark %#x", m)
	}
}
