//go:build linux

package nfq

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// table owns our nftables table "inet ips". The table and its chains are
// created once; while running only their rules change, in one batch,
// because deleting a base chain drops every packet queued through it.
type table struct {
	conn  *nftables.Conn
	spec  rulesetSpec
	t     *nftables.Table
	fwd   *nftables.Chain
	save  *nftables.Chain
	shape *nftables.Chain
}

func newTable(conn *nftables.Conn, spec rulesetSpec) *table {
	t := &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
	prio := nftables.ChainPriorityRef(ChainPriority)
	policy := nftables.ChainPolicyAccept
	return &table{
		conn: conn, spec: spec, t: t,
		fwd: &nftables.Chain{Name: chainForward, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: prio, Policy: &policy},
		save:  &nftables.Chain{Name: chainSave, Table: t},
		shape: &nftables.Chain{Name: chainShape, Table: t},
	}
}

// tableExists reports whether "inet ips" is present.
func tableExists(conn *nftables.Conn) (bool, error) {
	tabs, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("list nftables tables: %w", err)
	}
	for _, t := range tabs {
		if t.Name == TableName {
			return true, nil
		}
	}
	return false, nil
}

// install creates the table with its whole contents in one transaction.
// A table left by an earlier run (a crash, or a fail-closed stop) is
// deleted in the same transaction, so there is no moment without rules.
func (t *table) install() (replaced bool, err error) {
	replaced, err = tableExists(t.conn)
	if err != nil {
		return false, err
	}
	if replaced {
		t.conn.DelTable(t.t)
	}
	t.conn.AddTable(t.t)
	// Regular chains first: the base chain's rules jump to them.
	t.conn.AddChain(t.save)
	t.conn.AddChain(t.shape)
	t.conn.AddChain(t.fwd)
	t.addRules()
	if err := t.conn.Flush(); err != nil {
		return false, fmt.Errorf("install nftables table inet %s: %w", TableName, err)
	}
	return replaced, nil
}

// resync replaces the rules and map elements in one transaction, keeping
// the table and chains.
func (t *table) resync() error {
	t.conn.FlushChain(t.fwd)
	t.conn.FlushChain(t.save)
	t.conn.FlushChain(t.shape)
	t.addRules()
	if err := t.conn.Flush(); err != nil {
		return fmt.Errorf("resync nftables table inet %s: %w", TableName, err)
	}
	return nil
}

func (t *table) addRules() {
	for _, r := range t.spec.rules() {
		c := t.chain(r.chain)
		t.conn.AddRule(&nftables.Rule{Table: t.t, Chain: c, Exprs: r.exprs,
			UserData: userdata.AppendString(nil, userdata.TypeComment, r.tag)})
	}
}

func (t *table) chain(name string) *nftables.Chain {
	switch name {
	case chainSave:
		return t.save
	case chainShape:
		return t.shape
	}
	return t.fwd
}

// check compares the rules in the kernel with ours by their tags. It
// returns missing=true when the table is gone altogether.
func (t *table) check() (ok, missing bool, err error) {
	exists, err := tableExists(t.conn)
	if err != nil || !exists {
		return false, !exists, err
	}
	want := map[string][]string{}
	for _, r := range t.spec.rules() {
		want[r.chain] = append(want[r.chain], r.tag)
	}
	for _, c := range []*nftables.Chain{t.fwd, t.save, t.shape} {
		rules, err := t.conn.GetRules(t.t, c)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return false, false, nil
			}
			return false, false, fmt.Errorf("list rules of chain %s: %w", c.Name, err)
		}
		w := want[c.Name]
		if len(rules) != len(w) {
			return false, false, nil
		}
		for i, r := range rules {
			tag, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			if tag != w[i] {
				return false, false, nil
			}
		}
	}
	return true, false, nil
}

// RuleCounter is the packet and byte count of one tagged rule.
type RuleCounter struct {
	Tag            string
	Packets, Bytes uint64
}

// counters reads the counters of our rules, summed by tag.
func (t *table) counters() (map[string]RuleCounter, error) {
	var rules []*nftables.Rule
	for _, c := range []*nftables.Chain{t.fwd, t.save, t.shape} {
		rs, err := t.conn.GetRules(t.t, c)
		if err != nil {
			return nil, fmt.Errorf("list rules of chain %s: %w", c.Name, err)
		}
		rules = append(rules, rs...)
	}
	out := map[string]RuleCounter{}
	for _, r := range rules {
		tag, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		rc := out[tag]
		rc.Tag = tag
		for _, e := range r.Exprs {
			if c, ok := e.(*expr.Counter); ok {
				rc.Packets += c.Packets
				rc.Bytes += c.Bytes
			}
		}
		out[tag] = rc
	}
	return out, nil
}

// existingQueues reads the queue numbers the queue rule of the table now
// in the kernel sends to (a table an earlier run, or another ips, left):
// nft's queue expression, or the xt NFQUEUE target whose info starts with
// the __u16 queuenum and queues_total of struct xt_NFQ_info_v3.
func (t *table) existingQueues() (base, total uint16, ok bool) {
	rules, err := t.conn.GetRules(t.t, t.fwd)
	if err != nil {
		return 0, 0, false
	}
	for _, r := range rules {
		for _, e := range r.Exprs {
			switch x := e.(type) {
			case *expr.Queue:
				return x.Num, max(x.Total, 1), true
			case *expr.Target:
				if u, isU := x.Info.(*xt.Unknown); isU && x.Name == "NFQUEUE" && len(*u) >= 4 {
					b := []byte(*u)
					return binary.NativeEndian.Uint16(b[0:2]), max(binary.NativeEndian.Uint16(b[2:4]), 1), true
				}
			}
		}
	}
	return 0, 0, false
}

// removeTable deletes "inet ips" if it exists.
func removeTable(conn *nftables.Conn) (bool, error) {
	exists, err := tableExists(conn)
	if err != nil || !exists {
		return false, err
	}
	conn.DelTable(&nftables.Table{Name: TableName, Family: nftables.TableFamilyINet})
	if err := conn.Flush(); err != nil {
		return false, fmt.Errorf("delete nftables table inet %s: %w", TableName, err)
	}
	return true, nil
}
