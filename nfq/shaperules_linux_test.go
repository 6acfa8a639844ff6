//go:build linux

package nfq

import (
	"os"
	"runtime"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"ips/verdict"
)

// Every rule of the egress chains loads in the kernel (in a namespace of
// its own, on lo), for both directions.
func TestShapeChainRulesLoad(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) for a network namespace")
	}
	// The thread stays in the new namespace and is not unlocked: the
	// runtime ends it with this goroutine.
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatal(err)
	}
	layout, _ := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	rules := append(shapeChainRules(layout, true, 0, 0), shapeChainRules(layout, false, 128, 0x1fffe)...)
	for i, r := range rules {
		c, _ := nftables.New()
		st := &ShapeTable{t: &nftables.Table{Name: "x", Family: nftables.TableFamilyNetdev}}
		c.AddTable(st.t)
		sets := st.newSets()
		for _, s := range sets {
			c.AddSet(s, nil)
		}
		prio := nftables.ChainPriorityRef(0)
		policy := nftables.ChainPolicyAccept
		ch := c.AddChain(&nftables.Chain{Name: "up", Table: st.t, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookEgress, Priority: prio, Policy: &policy, Device: "lo"})
		c.AddRule(&nftables.Rule{Table: st.t, Chain: ch, Exprs: r.exprs})
		if err := c.Flush(); err != nil {
			t.Errorf("rule %d %s: %v", i, r.nft, err)
		}
		c.DelTable(st.t)
		c.Flush()
	}
}
