//go:build linux

package nfq_test

import (
	"fmt"
	"net/netip"
	"testing"

	"ips/nfq"
	"ips/test/harness"
	"ips/verdict"
)

// The classification table installs, refills its maps and goes away.
func TestShapeTableApply(t *testing.T) {
	topo := harness.NewTopology(t)
	layout, _ := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	err := topo.Bridge.Do(func() error {
		st, err := nfq.NewShapeTable(layout, nil)
		if err != nil {
			return err
		}
		c := verdict.Classification{
			Ranges: []verdict.PoolRange{
				{From: netip.MustParseAddr("10.77.0.0"), To: netip.MustParseAddr("10.77.0.127"), Pool: 1},
				{From: netip.MustParseAddr("10.77.0.128"), To: netip.MustParseAddr("255.255.255.255"), Pool: 2},
				{From: netip.MustParseAddr("fd77::"), To: netip.MustParseAddr("fd77::ffff"), Pool: 1},
			},
			Entries:  []verdict.ClassEntry{{Pool: 1, Class: 1, ClassID: 0x11000}, {Pool: 2, Class: 1, ClassID: 0x11001}},
			Hosts:    []verdict.HostEntry{{Addr: netip.MustParseAddr("10.77.0.9"), Class: 2, ClassID: 0x11002}},
			WANPorts: []string{topo.WANPort}, LANPorts: []string{topo.LANPort},
		}
		if err := st.Apply(c); err != nil {
			return err
		}
		c.Entries = append(c.Entries, verdict.ClassEntry{Pool: 2, Class: 2, ClassID: 0x11003})
		if err := st.Apply(c); err != nil {
			return err
		}
		if err := st.Update(verdict.ClassUpdate{AddHosts: []verdict.HostEntry{{Addr: netip.MustParseAddr("fd77::9"), Class: 2, ClassID: 0x11004}}, DelHosts: c.Hosts,
			AddEntries: []verdict.ClassEntry{{Pool: 3, Class: 1, ClassID: 0x11005}}, DelEntries: c.Entries[:1]}); err != nil {
			return err
		}
		// Someone deletes the table: Repair rebuilds it from what it said.
		if removed, err := nfq.RemoveShapeTable(); !removed || err != nil {
			return fmt.Errorf("remove: %v %v", removed, err)
		}
		if fixed, err := st.Repair(); !fixed || err != nil {
			return fmt.Errorf("repair: %v %v", fixed, err)
		}
		if fixed, err := st.Repair(); fixed || err != nil {
			return fmt.Errorf("second repair: %v %v", fixed, err)
		}
		return st.Remove()
	})
	if err != nil {
		t.Fatal(err)
	}
}
