//go:build linux

package nfq

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"

	"ips/verdict"
)

// ShapeTable is our table "netdev ips" (see shaperules.go): the egress
// chains of the shaped ports and the maps that classify shaped packets.
// Like "inet ips" it is ours alone and outlives the process, so that
// shaped flows stay shaped while ips restarts; ips doctor --cleanup
// removes it.
type ShapeTable struct {
	mu     sync.Mutex
	conn   *nftables.Conn
	layout verdict.MarkLayout
	log    *slog.Logger
	t      *nftables.Table
	sets   map[string]*nftables.Set
	cur    verdict.Classification
	built  bool
}

// NewShapeTable opens the netlink connection; nothing is installed until
// Apply.
func NewShapeTable(layout verdict.MarkLayout, log *slog.Logger) (*ShapeTable, error) {
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ShapeTable{conn: c, layout: layout, log: log,
		t: &nftables.Table{Name: ShapeTableName, Family: nftables.TableFamilyNetdev}}, nil
}

func (st *ShapeTable) newSets() map[string]*nftables.Set {
	c2 := func(a, b nftables.SetDatatype) nftables.SetDatatype {
		t, err := nftables.ConcatSetType(a, b)
		if err != nil {
			panic(err) // constant types: cannot fail
		}
		return t
	}
	return map[string]*nftables.Set{
		setPools4: {Table: st.t, Name: setPools4, IsMap: true, Interval: true, Concatenation: true, KeyType: c2(nftables.TypeIPAddr, nftables.TypeMark), DataType: nftables.TypeMark},
		setPools6: {Table: st.t, Name: setPools6, IsMap: true, Interval: true, Concatenation: true, KeyType: c2(nftables.TypeIP6Addr, nftables.TypeMark), DataType: nftables.TypeMark},
		setHosts4: {Table: st.t, Name: setHosts4, IsMap: true, Concatenation: true, KeyType: c2(nftables.TypeIPAddr, nftables.TypeMark), DataType: nftables.TypeMark},
		setHosts6: {Table: st.t, Name: setHosts6, IsMap: true, Concatenation: true, KeyType: c2(nftables.TypeIP6Addr, nftables.TypeMark), DataType: nftables.TypeMark},
	}
}

func ne32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func (st *ShapeTable) markOf(class uint16) uint32 {
	return st.layout.Value(verdict.Decision{Action: verdict.Shape, Class: class, Final: true})
}

// poolElems are the pools4 (v6=false) or pools6 elements of class
// entries: each of the entry's pool's address ranges, concatenated with
// the shaper's mark, maps to the entry's class.
func (st *ShapeTable) poolElems(ranges []verdict.PoolRange, es []verdict.ClassEntry, v6 bool) []nftables.SetElement {
	byPool := map[uint32][]verdict.PoolRange{}
	for _, r := range ranges {
		if r.From.Is6() == v6 {
			byPool[r.Pool] = append(byPool[r.Pool], r)
		}
	}
	var out []nftables.SetElement
	for _, e := range es {
		m := ne32(st.markOf(e.Class))
		for _, r := range byPool[e.Pool] {
			out = append(out, nftables.SetElement{
				Key:    append(r.From.AsSlice(), m...),
				KeyEnd: append(r.To.AsSlice(), m...),
				Val:    ne32(e.ClassID)})
		}
	}
	return out
}

func (st *ShapeTable) hostElem(h verdict.HostEntry) nftables.SetElement {
	return nftables.SetElement{Key: append(h.Addr.AsSlice(), ne32(st.markOf(h.Class))...), Val: ne32(h.ClassID)}
}

// Apply makes the table say c, in one transaction: the table is created
// (replacing one an earlier run left) when it does not exist yet or its
// ports changed, otherwise only the maps whose contents changed are
// refilled. A failed transaction leaves the previous state in force.
func (st *ShapeTable) Apply(c verdict.Classification) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	rebuild := !st.built || !slices.Equal(c.WANPorts, st.cur.WANPorts) || !slices.Equal(c.LANPorts, st.cur.LANPorts) ||
		c.SmallUnshaped != st.cur.SmallUnshaped || c.SmallClassID != st.cur.SmallClassID
	if rebuild {
		if exists, _ := st.exists(); exists {
			st.conn.DelTable(st.t)
		}
		st.conn.AddTable(st.t)
		st.sets = st.newSets()
		for _, name := range []string{setPools4, setPools6, setHosts4, setHosts6} {
			if err := st.conn.AddSet(st.sets[name], nil); err != nil {
				return fmt.Errorf("nftables set %s: %w", name, err)
			}
		}
		prio := nftables.ChainPriorityRef(0)
		policy := nftables.ChainPolicyAccept
		for _, side := range []struct {
			ports  []string
			upload bool
		}{{c.WANPorts, true}, {c.LANPorts, false}} {
			rules := shapeChainRules(st.layout, side.upload, c.SmallUnshaped, c.SmallClassID)
			for _, p := range side.ports {
				// nft: chain up-wan0 { type filter hook egress device "wan0" priority 0; policy accept; }
				ch := st.conn.AddChain(&nftables.Chain{Name: shapeChainName(p, side.upload), Table: st.t, Type: nftables.ChainTypeFilter,
					Hooknum: nftables.ChainHookEgress, Priority: prio, Policy: &policy, Device: p})
				for _, r := range rules {
					for _, e := range r.exprs {
						if l, ok := e.(*expr.Lookup); ok {
							l.SetID = st.sets[l.SetName].ID
						}
					}
					st.conn.AddRule(&nftables.Rule{Table: st.t, Chain: ch, Exprs: r.exprs,
						UserData: userdata.AppendString(nil, userdata.TypeComment, r.tag)})
				}
			}
		}
	}
	fill := func(name string, changed bool, elems []nftables.SetElement) error {
		if !rebuild && !changed {
			return nil
		}
		if !rebuild {
			st.conn.FlushSet(st.sets[name])
		}
		if len(elems) == 0 {
			return nil
		}
		if err := st.conn.SetAddElements(st.sets[name], elems); err != nil {
			return fmt.Errorf("nftables map %s: %w", name, err)
		}
		return nil
	}
	c.Entries, c.Hosts = sortedEntries(c.Entries), sortedHosts(c.Hosts)
	poolsChanged := !slices.Equal(c.Ranges, st.cur.Ranges) || !slices.Equal(c.Entries, st.cur.Entries)
	if err := fill(setPools4, poolsChanged, st.poolElems(c.Ranges, c.Entries, false)); err != nil {
		return err
	}
	if err := fill(setPools6, poolsChanged, st.poolElems(c.Ranges, c.Entries, true)); err != nil {
		return err
	}
	// Host entries: the plan's, replacing every host entry.
	hostsChanged := rebuild || !slices.Equal(c.Hosts, st.cur.Hosts)
	var h4, h6 []nftables.SetElement
	for _, h := range c.Hosts {
		if h.Addr.Is4() {
			h4 = append(h4, st.hostElem(h))
		} else {
			h6 = append(h6, st.hostElem(h))
		}
	}
	if err := fill(setHosts4, hostsChanged, h4); err != nil {
		return err
	}
	if err := fill(setHosts6, hostsChanged, h6); err != nil {
		return err
	}
	if err := st.conn.Flush(); err != nil {
		if rebuild {
			st.built = false
		}
		return fmt.Errorf("nftables table netdev %s: %w", ShapeTableName, err)
	}
	st.built = true
	st.cur = c
	st.cur.Hosts = slices.Clone(c.Hosts)
	st.cur.Entries = slices.Clone(c.Entries)
	return nil
}

// Update adds and removes pool and host entries in one transaction, as
// pool and host classes come and go.
func (st *ShapeTable) Update(u verdict.ClassUpdate) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.built {
		return fmt.Errorf("nftables table netdev %s: not installed", ShapeTableName)
	}
	split := func(hs []verdict.HostEntry) (v4, v6 []nftables.SetElement) {
		for _, h := range hs {
			if h.Addr.Is4() {
				v4 = append(v4, st.hostElem(h))
			} else {
				v6 = append(v6, st.hostElem(h))
			}
		}
		return
	}
	d4, d6 := split(u.DelHosts)
	a4, a6 := split(u.AddHosts)
	for _, x := range []struct {
		set      string
		del, add []nftables.SetElement
	}{{setHosts4, d4, a4}, {setHosts6, d6, a6},
		{setPools4, st.poolElems(st.cur.Ranges, u.DelEntries, false), st.poolElems(st.cur.Ranges, u.AddEntries, false)},
		{setPools6, st.poolElems(st.cur.Ranges, u.DelEntries, true), st.poolElems(st.cur.Ranges, u.AddEntries, true)}} {
		if len(x.del) > 0 {
			if err := st.conn.SetDeleteElements(st.sets[x.set], x.del); err != nil {
				return err
			}
		}
		if len(x.add) > 0 {
			if err := st.conn.SetAddElements(st.sets[x.set], x.add); err != nil {
				return err
			}
		}
	}
	if err := st.conn.Flush(); err != nil {
		return fmt.Errorf("nftables table netdev %s: %w", ShapeTableName, err)
	}
	for _, h := range u.DelHosts {
		st.cur.Hosts = slices.DeleteFunc(st.cur.Hosts, func(x verdict.HostEntry) bool { return x == h })
	}
	st.cur.Hosts = append(st.cur.Hosts, u.AddHosts...)
	for _, e := range u.DelEntries {
		st.cur.Entries = slices.DeleteFunc(st.cur.Entries, func(x verdict.ClassEntry) bool { return x == e })
	}
	st.cur.Entries = sortedEntries(append(st.cur.Entries, u.AddEntries...))
	st.cur.Hosts = sortedHosts(st.cur.Hosts)
	return nil
}

// sortedEntries and sortedHosts put entries in one order, so that
// Apply can tell an unchanged classification from a changed one and
// leave its maps alone (refilling a big interval map is the costly part).
func sortedEntries(es []verdict.ClassEntry) []verdict.ClassEntry {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b verdict.ClassEntry) int {
		if a.Pool != b.Pool {
			return cmp.Compare(a.Pool, b.Pool)
		}
		if a.Class != b.Class {
			return cmp.Compare(a.Class, b.Class)
		}
		return cmp.Compare(a.ClassID, b.ClassID)
	})
	return es
}

func sortedHosts(hs []verdict.HostEntry) []verdict.HostEntry {
	hs = slices.Clone(hs)
	slices.SortFunc(hs, func(a, b verdict.HostEntry) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		if a.Class != b.Class {
			return cmp.Compare(a.Class, b.Class)
		}
		return cmp.Compare(a.ClassID, b.ClassID)
	})
	return hs
}

func (st *ShapeTable) exists() (bool, error) {
	tabs, err := st.conn.ListTablesOfFamily(nftables.TableFamilyNetdev)
	if err != nil {
		return false, err
	}
	for _, t := range tabs {
		if t.Name == ShapeTableName {
			return true, nil
		}
	}
	return false, nil
}

// Remove deletes the table and closes the connection.
func (st *ShapeTable) Remove() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	defer st.conn.CloseLasting()
	_, err := removeShapeTable(st.conn)
	st.built = false
	return err
}

// removeShapeTable deletes "netdev ips" if it exists.
func removeShapeTable(conn *nftables.Conn) (bool, error) {
	tabs, err := conn.ListTablesOfFamily(nftables.TableFamilyNetdev)
	if err != nil {
		return false, fmt.Errorf("list nftables tables: %w", err)
	}
	for _, t := range tabs {
		if t.Name == ShapeTableName {
			conn.DelTable(t)
			if err := conn.Flush(); err != nil {
				return false, fmt.Errorf("delete nftables table netdev %s: %w", ShapeTableName, err)
			}
			return true, nil
		}
	}
	return false, nil
}

// RemoveShapeTable deletes "netdev ips" in the calling thread's network
// namespace (ips doctor --cleanup).
func RemoveShapeTable() (bool, error) {
	c, err := nftables.New()
	if err != nil {
		return false, err
	}
	return removeShapeTable(c)
}

// Repair rebuilds the table when someone deleted it, from what it last
// said; it reports whether it had to.
func (st *ShapeTable) Repair() (bool, error) {
	st.mu.Lock()
	if !st.built {
		st.mu.Unlock()
		return false, nil
	}
	ok, err := st.exists()
	if err != nil || ok {
		st.mu.Unlock()
		return false, err
	}
	st.built = false
	c := st.cur
	st.mu.Unlock()
	return true, st.Apply(c)
}
