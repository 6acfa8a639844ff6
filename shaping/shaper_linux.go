//go:build linux

package shaping

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	tc "github.com/florianl/go-tc"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"ips/verdict"
)

// Port is one interface whose egress ips shapes: a WAN port carries
// uploads, a LAN port downloads. Rate is its line rate in bit/s (the root
// class), 0 for DefaultLineRate.
type Port struct {
	Name string
	Side verdict.Side
	Rate uint64
}

// DefaultLineRate is the root class's rate when none is given: more than
// any real port carries, so that only the shapers limit anything.
const DefaultLineRate = 100_000_000_000

// Config configures a Shaper.
type Config struct {
	Ports []Port
	// TakeOver replaces a root qdisc someone else installed (it is put
	// back on stop); without it such a port is reported and left alone.
	TakeOver bool
	// StateDir holds the state file that says what the ports had before
	// start (default /run/ips); ips doctor --cleanup reads it after a
	// crash.
	StateDir string
	// MaxHosts bounds the per-host classes (default 4096); beyond it a
	// host's flows share its shaper's own class.
	MaxHosts int
	// MaxPoolClasses bounds the (shaper, pool) classes (default 16384);
	// beyond it a pool's flows share the shaper's own class.
	MaxPoolClasses int
	// ClassIdle is how long a pool or host class may pass no traffic
	// before it is removed (default 60 s); the pool's next flow of that
	// shaper makes it again.
	ClassIdle time.Duration
	// Workers is how many rtnetlink sockets share a reload's class
	// changes (default 4).
	Workers int
	Log     *slog.Logger
}

// Shaper owns the HTB trees on the shaped ports.
type Shaper struct {
	cfg     Config
	log     *slog.Logger
	tc      *tc.Tc
	workers []*tc.Tc
	mu      sync.Mutex
	ports   []*portState // the ports we shape
	skip    []Skipped
	state   string // state file path

	installed bool
	leaf      string // "fq_codel", or "" for the kernel's default leaf
	probed    bool
	plan      verdict.ShapePlan
	classes   map[classKey]*class
	minors    *minors
	poolKeys  map[string]uint32
	nextPool  uint32
	hosts     int // per-host classes
	pools     int // per-pool classes
}

type portState struct {
	Port
	ifindex uint32
	saved   *savedPort
}

// class is one class on every shaped port.
type class struct {
	classSpec
	minor    uint16
	lastSeen time.Time // per-host: last time its counters moved
	bytes    uint64
}

// Skipped is a configured port ips does not shape, and why.
type Skipped struct {
	Port   string
	Reason string
}

// New opens rtnetlink (extended acks on) and checks the ports; nothing
// changes in the kernel before the first Apply with a shaper.
func New(cfg Config) (*Shaper, error) {
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	if cfg.MaxHosts <= 0 {
		cfg.MaxHosts = 4096
	}
	if cfg.MaxPoolClasses <= 0 {
		cfg.MaxPoolClasses = 16384
	}
	if cfg.ClassIdle <= 0 {
		cfg.ClassIdle = time.Minute
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	t, err := tc.Open(&tc.Config{})
	if err != nil {
		return nil, fmt.Errorf("rtnetlink (tc): %w", err)
	}
	_ = t.SetOption(netlink.ExtendedAcknowledge, true)
	s := &Shaper{cfg: cfg, log: cfg.Log, tc: t, classes: map[classKey]*class{}, minors: newMinors(), poolKeys: map[string]uint32{}, nextPool: 1}
	if s.state, err = statePath(cfg.StateDir); err != nil {
		t.Close()
		return nil, err
	}
	for i := 0; i < cfg.Workers; i++ {
		w, err := tc.Open(&tc.Config{})
		if err != nil {
			break // fewer workers: slower reloads, nothing else
		}
		_ = w.SetOption(netlink.ExtendedAcknowledge, true)
		s.workers = append(s.workers, w)
	}
	return s, nil
}

func (s *Shaper) ifindex(name string) (uint32, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("port %s: %w", name, err)
	}
	return uint32(ifc.Index), nil
}

// rootQdisc returns the root qdisc of an interface.
func rootQdisc(t *tc.Tc, ifindex uint32) (*tc.Object, error) {
	qs, err := t.Qdisc().Get()
	if err != nil {
		return nil, fmt.Errorf("list qdiscs: %w", err)
	}
	for i := range qs {
		if qs[i].Ifindex == ifindex && qs[i].Parent == tc.HandleRoot {
			return &qs[i], nil
		}
	}
	return nil, nil
}

// isOurs says a root qdisc is the HTB an ips run installed.
func isOurs(q *tc.Object) bool {
	return q != nil && q.Kind == "htb" && q.Handle == Major<<16
}

// isDefault says a root qdisc is one the kernel attached by itself
// (handle 0: noqueue, pfifo_fast, mq, or the default_qdisc sysctl's).
func isDefault(q *tc.Object) bool { return q == nil || q.Handle == 0 }

// install puts the HTB roots on the ports, after recording in the state
// file what each had. A port with a root qdisc of someone else's is
// skipped unless TakeOver.
func (s *Shaper) install() error {
	old, _ := readState(s.state) // what a crashed run saw before it started
	var ports []*portState
	s.skip = nil
	for _, p := range s.cfg.Ports {
		idx, err := s.ifindex(p.Name)
		if err != nil {
			return err
		}
		q, err := rootQdisc(s.tc, idx)
		if err != nil {
			return err
		}
		ps := &portState{Port: p, ifindex: idx, saved: &savedPort{Name: p.Name, Ifindex: idx}}
		switch {
		case isOurs(q) && old != nil && old.port(p.Name) != nil:
			// Left by a run that died: what it saved is what was there
			// before ips.
			ps.saved = old.port(p.Name)
			ps.saved.Ifindex = idx
		case isDefault(q):
		case !s.cfg.TakeOver:
			s.skip = append(s.skip, Skipped{Port: p.Name, Reason: fmt.Sprintf("has a root qdisc of its own (%s %s); not shaped (--take-over-qdisc replaces it and puts it back on stop)", q.Kind, handleString(q.Handle))})
			continue
		default:
			fq := *q
			fq.Stats, fq.Stats2, fq.XStats, fq.ExtWarnMsg = nil, nil, nil, ""
			ps.saved.Foreign = &fq
			s.log.Warn("taking over the port's root qdisc; it is put back on stop", "port", p.Name, "qdisc", q.Kind, "handle", handleString(q.Handle))
		}
		ports = append(ports, ps)
	}
	for _, sk := range s.skip {
		s.log.Warn("port not shaped", "port", sk.Port, "reason", sk.Reason)
	}
	st := &stateFile{Version: 1}
	for _, p := range ports {
		st.Ports = append(st.Ports, *p.saved)
	}
	if err := writeState(s.state, st); err != nil {
		return err
	}
	for i, p := range ports {
		if err := s.installPort(p); err != nil {
			for _, q := range ports[:i+1] {
				_ = restorePort(s.tc, q.saved)
			}
			removeState(s.state)
			return err
		}
	}
	s.ports = ports
	s.installed = true
	return nil
}

func handleString(h uint32) string { return fmt.Sprintf("%x:%x", h>>16, h&0xffff) }

// installPort builds the root, root class and default class of a port.
func (s *Shaper) installPort(p *portState) error {
	line := p.Rate
	if line == 0 {
		line = DefaultLineRate
	}
	// tc qdisc replace dev DEV root handle 1: htb default fffe r2q 10
	root := &tc.Object{Msg: tc.Msg{Family: unix.AF_UNSPEC, Ifindex: p.ifindex, Handle: Major << 16, Parent: tc.HandleRoot},
		Attribute: tc.Attribute{Kind: "htb", Htb: htbRoot()}}
	if err := s.tc.Qdisc().Replace(root); err != nil {
		return fmt.Errorf("port %s: HTB root qdisc: %w", p.Name, err)
	}
	// tc class add dev DEV parent 1: classid 1:ffff htb rate LINE ceil LINE
	if err := s.addClass(s.tc, p, Major<<16, MinorRoot, params{line, line}); err != nil {
		return err
	}
	// tc class add dev DEV parent 1:ffff classid 1:fffe htb rate LINE ceil LINE
	if err := s.addClass(s.tc, p, ClassID(MinorRoot), MinorDefault, params{line, line}); err != nil {
		return err
	}
	if !s.probed {
		s.probed = true
		s.probeLeaf(p)
	} else if s.leaf != "" {
		_ = s.addLeaf(p, MinorDefault)
	}
	return nil
}

// probeLeaf tries fq_codel under the default class; without it (as on
// kernels built without CONFIG_NET_SCH_FQ_CODEL) every class keeps the
// kernel's default leaf, a pfifo of the port's txqueuelen.
func (s *Shaper) probeLeaf(p *portState) {
	if err := s.addLeafKind(p, MinorDefault, "fq_codel"); err == nil {
		s.leaf = "fq_codel"
	} else {
		s.log.Info("no fq_codel in this kernel: shaper classes get the default pfifo leaf", "err", err)
	}
}

func (s *Shaper) addLeaf(p *portState, minor uint16) error {
	if s.leaf == "" {
		return nil
	}
	return s.addLeafKind(p, minor, s.leaf)
}

// tc qdisc add dev DEV parent 1:M fq_codel   (handle chosen by the kernel)
func (s *Shaper) addLeafKind(p *portState, minor uint16, kind string) error {
	limit := uint32(10240)
	q := &tc.Object{Msg: tc.Msg{Family: unix.AF_UNSPEC, Ifindex: p.ifindex, Parent: ClassID(minor)},
		Attribute: tc.Attribute{Kind: kind, FqCodel: &tc.FqCodel{Limit: &limit}}}
	return s.tc.Qdisc().Add(q)
}

func (s *Shaper) classObject(p *portState, parent uint32, minor uint16, pr params) *tc.Object {
	return &tc.Object{Msg: tc.Msg{Family: unix.AF_UNSPEC, Ifindex: p.ifindex, Handle: ClassID(minor), Parent: parent},
		Attribute: tc.Attribute{Kind: "htb", Htb: htbClass(pr.rate, pr.ceil)}}
}

// tc class add dev DEV parent P classid 1:M htb rate R ceil C burst B cburst CB quantum Q
func (s *Shaper) addClass(t *tc.Tc, p *portState, parent uint32, minor uint16, pr params) error {
	if err := t.Class().Add(s.classObject(p, parent, minor, pr)); err != nil {
		return fmt.Errorf("port %s: add class %s: %w", p.Name, verdict.ClassIDString(ClassID(minor)), err)
	}
	return nil
}

// tc class change dev DEV parent 1:ffff classid 1:M htb rate R ceil C ...
// (the class keeps its queue and counters)
func (s *Shaper) changeClass(t *tc.Tc, p *portState, minor uint16, pr params) error {
	o := s.classObject(p, ClassID(MinorRoot), minor, pr)
	if err := t.Class().Replace(o); err != nil {
		return fmt.Errorf("port %s: change class %s: %w", p.Name, verdict.ClassIDString(ClassID(minor)), err)
	}
	return nil
}

// tc class del dev DEV classid 1:M
func (s *Shaper) delClass(t *tc.Tc, p *portState, minor uint16) error {
	o := &tc.Object{Msg: tc.Msg{Family: unix.AF_UNSPEC, Ifindex: p.ifindex, Handle: ClassID(minor), Parent: ClassID(MinorRoot)},
		Attribute: tc.Attribute{Kind: "htb", Htb: htbClass(1e6, 1e6)}} // options ignored on delete
	if err := t.Class().Delete(o); err != nil {
		return fmt.Errorf("port %s: delete class %s: %w", p.Name, verdict.ClassIDString(ClassID(minor)), err)
	}
	return nil
}

// Apply makes the shaper classes on every port those of plan, in one
// pass: classes whose shaper (and pool, or host) stays and whose rates
// did not change are not touched (their queues and counters go on),
// changed rates apply to running flows at once, new shapers get their
// classes and removed ones are deleted, with their pool and host
// classes. (shaper, pool) and (shaper, host) classes are made when the
// first flow of that pool or host is decided into the shaper (Ensure),
// so the cost of a policy with thousands of pools is paid only for the
// pools that shape. commit is called with the new classification after
// the classes it names exist and before any class is deleted; if it or
// any tc change fails, what was done is undone and the old state stays
// in force. The HTB roots are installed by the first plan with a shaper.
func (s *Shaper) Apply(plan verdict.ShapePlan, commit func(verdict.Classification) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want, err := desired(plan)
	if err != nil {
		return err
	}
	if !s.installed {
		if len(plan.Shapers) == 0 {
			return nil
		}
		if err := s.install(); err != nil {
			return err
		}
	}
	wantBy := map[classKey]classSpec{}
	for _, c := range want {
		wantBy[c.key] = c
	}
	// Pool and host classes stay while their shaper still divides its
	// rate that way (with the shaper's new rates) and their pool exists.
	shapers := map[string]verdict.ShaperSpec{}
	for _, sh := range plan.Shapers {
		shapers[sh.Name] = sh
	}
	poolsNow := map[string]bool{}
	for _, pl := range plan.Pools {
		poolsNow[pl.Name] = true
	}
	for k := range s.classes {
		per := verdict.PerPool
		switch k.kind {
		case kindShaper:
			continue
		case kindHost:
			per = verdict.PerHost
		}
		if sh, ok := shapers[k.shaper]; ok && sh.Per == per && poolsNow[k.pool] {
			wantBy[k] = classSpec{key: k, class: sh.Class, p: params{sh.Rate, max(sh.Ceil, sh.Rate)}}
		}
	}
	// A shaper's own class has the minor of its class number. When a
	// number passes from one shaper to another, the old class goes first.
	for k, c := range s.classes {
		if k.kind != kindShaper {
			continue
		}
		if _, stays := wantBy[k]; stays {
			continue
		}
		for wk, w := range wantBy {
			if wk.kind == kindShaper && w.class == c.minor {
				s.delEverywhere(c.minor)
				delete(s.classes, k)
				break
			}
		}
	}

	type change struct {
		c        *class
		old      params
		oldClass uint16
	}
	var added []*class
	var changed []change
	undo := func() {
		var back []*class
		for _, ch := range changed {
			if ch.c.p != ch.old {
				ch.c.p = ch.old
				back = append(back, ch.c)
			}
			ch.c.class = ch.oldClass
		}
		_ = s.changeAll(back)
		for _, c := range added {
			s.delEverywhere(c.minor)
			if c.key.kind != kindShaper {
				s.minors.free(c.minor)
			}
		}
	}
	keys := make([]classKey, 0, len(wantBy))
	for k := range wantBy {
		keys = append(keys, k)
	}
	sortKeys(keys)
	next := make(map[classKey]*class, len(wantBy))
	var toChange []*class
	for _, k := range keys {
		w := wantBy[k]
		if c, ok := s.classes[k]; ok {
			next[k] = c
			if c.class == w.class && c.p == w.p {
				continue
			}
			changed = append(changed, change{c, c.p, c.class})
			if c.p != w.p {
				toChange = append(toChange, c)
			}
			c.p, c.class = w.p, w.class
			continue
		}
		// Only shaper classes are new here: pool and host classes are
		// made by Ensure.
		nc := &class{classSpec: w, minor: w.class, lastSeen: time.Now()}
		added = append(added, nc)
		if err := s.addEverywhere(nc); err != nil {
			undo()
			return err
		}
		next[k] = nc
	}
	if err := s.changeAll(toChange); err != nil {
		undo()
		return err
	}
	// Pool keys: the old pools keep theirs.
	keysNow := map[string]uint32{}
	for _, pl := range plan.Pools {
		k, ok := s.poolKeys[pl.Name]
		if !ok {
			k = s.nextPool
			s.nextPool++
		}
		keysNow[pl.Name] = k
	}
	if commit != nil {
		if err := commit(s.classification(plan, next, keysNow)); err != nil {
			undo()
			return err
		}
	}
	// Committed: delete the classes the plan no longer has.
	var gone []uint16
	for k, c := range s.classes {
		if _, ok := next[k]; ok {
			continue
		}
		gone = append(gone, c.minor)
		if k.kind != kindShaper {
			s.minors.free(c.minor)
		}
	}
	if err := s.delAll(gone); err != nil {
		s.log.Warn("deleting classes of the old plan", "err", err)
	}
	s.classes, s.plan, s.poolKeys = next, plan, keysNow
	s.countLazy()
	return nil
}

func (s *Shaper) countLazy() {
	s.hosts, s.pools = 0, 0
	for k := range s.classes {
		switch k.kind {
		case kindHost:
			s.hosts++
		case kindPool:
			s.pools++
		}
	}
}

// addEverywhere adds a class (and its leaf) on every port; on error the
// ports that got it lose it again.
func (s *Shaper) addEverywhere(c *class) error {
	for i, p := range s.ports {
		err := s.addClass(s.tc, p, ClassID(MinorRoot), c.minor, c.p)
		if err == nil {
			if err = s.addLeaf(p, c.minor); err != nil {
				err = fmt.Errorf("port %s: leaf qdisc of class %s: %w", p.Name, verdict.ClassIDString(ClassID(c.minor)), err)
			}
		}
		if err != nil {
			for _, q := range s.ports[:i+1] {
				_ = s.delClass(s.tc, q, c.minor)
			}
			return err
		}
	}
	return nil
}

func (s *Shaper) delEverywhere(minor uint16) {
	for _, p := range s.ports {
		_ = s.delClass(s.tc, p, minor)
	}
}

// changeAll applies the rates of many classes on every port, spread over
// the worker sockets: a reload that changes a shaper with a thousand
// pool classes waits for the kernel, not for one round trip at a time.
func (s *Shaper) changeAll(cs []*class) error {
	n := len(cs) * len(s.ports)
	return s.parallel(n, func(t *tc.Tc, i int) error {
		c, p := cs[i/len(s.ports)], s.ports[i%len(s.ports)]
		return s.changeClass(t, p, c.minor, c.p)
	})
}

func (s *Shaper) delAll(minors []uint16) error {
	n := len(minors) * len(s.ports)
	return s.parallel(n, func(t *tc.Tc, i int) error {
		return s.delClass(t, s.ports[i%len(s.ports)], minors[i/len(s.ports)])
	})
}

// parallel runs f(0..n-1) over the worker sockets and returns the errors.
func (s *Shaper) parallel(n int, f func(t *tc.Tc, i int) error) error {
	if n == 0 {
		return nil
	}
	if n < 8 || len(s.workers) == 0 {
		var errs []error
		for i := 0; i < n; i++ {
			if err := f(s.tc, i); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	var next atomic.Int64
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, t := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(t, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func sortKeys(ks []classKey) {
	sort.Slice(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.shaper != b.shaper {
			return a.shaper < b.shaper
		}
		if a.num != b.num {
			return a.num < b.num
		}
		if a.pool != b.pool {
			return a.pool < b.pool
		}
		return a.host.Less(b.host)
	})
}

// classification is what the kernel needs to find the classes.
func (s *Shaper) classification(plan verdict.ShapePlan, cs map[classKey]*class, keys map[string]uint32) verdict.Classification {
	var c verdict.Classification
	c.Ranges = poolRanges(plan.Pools, keys)
	for _, cl := range cs {
		switch cl.key.kind {
		case kindPool:
			c.Entries = append(c.Entries, verdict.ClassEntry{Pool: keys[cl.key.pool], Class: cl.class, ClassID: ClassID(cl.minor)})
		case kindHost:
			c.Hosts = append(c.Hosts, verdict.HostEntry{Addr: cl.key.host, Class: cl.class, ClassID: ClassID(cl.minor)})
		}
	}
	slices.SortFunc(c.Entries, func(a, b verdict.ClassEntry) int {
		if a.Pool != b.Pool {
			return int(a.Pool) - int(b.Pool)
		}
		return int(a.Class) - int(b.Class)
	})
	slices.SortFunc(c.Hosts, func(a, b verdict.HostEntry) int {
		if x := a.Addr.Compare(b.Addr); x != 0 {
			return x
		}
		return int(a.Class) - int(b.Class)
	})
	if s.leaf == "" {
		c.SmallUnshaped, c.SmallClassID = SmallUnshaped, ClassID(MinorDefault)
	}
	for _, p := range s.ports {
		if p.Side == verdict.SideWAN {
			c.WANPorts = append(c.WANPorts, p.Name)
		} else {
			c.LANPorts = append(c.LANPorts, p.Name)
		}
	}
	return c
}

// Ensure gives a pool (per-pool shapers) or a LAN host (per-host
// shapers) of the shaper with class num its own class on every port, the
// first time one of its flows is decided into the shaper. It returns what
// the kernel's maps must add, and ok=false when there is nothing to add:
// the class exists, the shaper is per "all", the host is in no pool, or
// the bound on classes is reached (the flows then share the shaper's own
// class).
func (s *Shaper) Ensure(num uint16, pool string, addr netip.Addr) (verdict.ClassUpdate, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var u verdict.ClassUpdate
	sh, ok := s.plan.Shaper(num)
	if !ok || !s.installed || pool == "" || sh.Per == verdict.PerAll {
		return u, false, nil
	}
	k := classKey{kind: kindPool, shaper: sh.Name, pool: pool}
	if sh.Per == verdict.PerHost {
		if !addr.IsValid() {
			return u, false, nil
		}
		k = classKey{kind: kindHost, shaper: sh.Name, pool: pool, host: addr.Unmap()}
	}
	if c, ok := s.classes[k]; ok {
		c.lastSeen = time.Now()
		return u, false, nil
	}
	key, known := s.poolKeys[pool]
	if !known {
		return u, false, nil
	}
	if k.kind == kindHost && s.hosts >= s.cfg.MaxHosts || k.kind == kindPool && s.pools >= s.cfg.MaxPoolClasses {
		return u, false, nil
	}
	m, ok := s.minors.take()
	if !ok {
		return u, false, nil
	}
	c := &class{classSpec: classSpec{key: k, class: num, p: params{sh.Rate, max(sh.Ceil, sh.Rate)}}, minor: m, lastSeen: time.Now()}
	if err := s.addEverywhere(c); err != nil {
		s.minors.free(m)
		return u, false, err
	}
	s.classes[k] = c
	if k.kind == kindHost {
		s.hosts++
		u.AddHosts = []verdict.HostEntry{{Addr: k.host, Class: num, ClassID: ClassID(m)}}
	} else {
		s.pools++
		u.AddEntries = []verdict.ClassEntry{{Pool: key, Class: num, ClassID: ClassID(m)}}
	}
	return u, true, nil
}

// Expire removes the pool and host classes that passed no traffic for
// ClassIdle. del is called with the map entries to take out of the
// kernel before their classes go.
func (s *Shaper) Expire(now time.Time, del func(verdict.ClassUpdate) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hosts+s.pools == 0 {
		return nil
	}
	bytes, err := s.classBytes()
	if err != nil {
		return err
	}
	var gone []*class
	for _, c := range s.classes {
		if c.key.kind == kindShaper {
			continue
		}
		if b := bytes[c.minor]; b != c.bytes {
			c.bytes, c.lastSeen = b, now
			continue
		}
		if now.Sub(c.lastSeen) >= s.cfg.ClassIdle {
			gone = append(gone, c)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	var u verdict.ClassUpdate
	var minors []uint16
	for _, c := range gone {
		if c.key.kind == kindHost {
			u.DelHosts = append(u.DelHosts, verdict.HostEntry{Addr: c.key.host, Class: c.class, ClassID: ClassID(c.minor)})
		} else {
			u.DelEntries = append(u.DelEntries, verdict.ClassEntry{Pool: s.poolKeys[c.key.pool], Class: c.class, ClassID: ClassID(c.minor)})
		}
		minors = append(minors, c.minor)
	}
	if del != nil {
		if err := del(u); err != nil {
			return err
		}
	}
	_ = s.delAll(minors)
	for _, c := range gone {
		s.minors.free(c.minor)
		delete(s.classes, c.key)
	}
	s.countLazy()
	s.log.Debug("idle pool and host shaper classes removed", "classes", len(gone))
	return nil
}

// classBytes sums each class minor's bytes over the ports.
func (s *Shaper) classBytes() (map[uint16]uint64, error) {
	out := map[uint16]uint64{}
	for _, p := range s.ports {
		cs, err := s.tc.Class().Get(&tc.Msg{Family: unix.AF_UNSPEC, Ifindex: p.ifindex})
		if err != nil {
			return nil, fmt.Errorf("port %s: list classes: %w", p.Name, err)
		}
		for _, c := range cs {
			if c.Handle>>16 == Major && c.Stats2 != nil {
				out[uint16(c.Handle)] += c.Stats2.Bytes
			} else if c.Handle>>16 == Major && c.Stats != nil {
				out[uint16(c.Handle)] += c.Stats.Bytes
			}
		}
	}
	return out, nil
}

// ClassStats are one class's counters on one port.
type ClassStats struct {
	Shaper, Pool                                     string // pool "" for the shaper's own class; a host's address for per-host classes
	Host                                             string
	Port                                             string
	Upload                                           bool // a WAN port's class
	ClassID                                          uint32
	Bytes, Packets, Drops, Overlimits, Backlog, Qlen uint64
}

// Stats reads the counters of every shaper class on every port.
func (s *Shaper) Stats() ([]ClassStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byMinor := map[uint16]*class{}
	for _, c := range s.classes {
		byMinor[c.minor] = c
	}
	var out []ClassStats
	for _, p := range s.ports {
		cs, err := s.tc.Class().Get(&tc.Msg{Family: unix.AF_UNSPEC, Ifindex: p.ifindex})
		if err != nil {
			return nil, fmt.Errorf("port %s: list classes: %w", p.Name, err)
		}
		for _, o := range cs {
			c := byMinor[uint16(o.Handle)]
			if o.Handle>>16 != Major || c == nil {
				continue
			}
			st := ClassStats{Shaper: c.key.shaper, Pool: c.key.pool, Port: p.Name, Upload: p.Side == verdict.SideWAN, ClassID: o.Handle}
			if c.key.kind == kindHost {
				st.Host = c.key.host.String()
			}
			if o.Stats2 != nil {
				st.Bytes, st.Packets, st.Drops, st.Overlimits, st.Backlog, st.Qlen = o.Stats2.Bytes, uint64(o.Stats2.Packets),
					uint64(o.Stats2.Drops), uint64(o.Stats2.Overlimits), uint64(o.Stats2.Backlog), uint64(o.Stats2.Qlen)
			} else if o.Stats != nil {
				st.Bytes, st.Packets, st.Drops, st.Overlimits, st.Backlog, st.Qlen = o.Stats.Bytes, uint64(o.Stats.Packets),
					uint64(o.Stats.Drops), uint64(o.Stats.Overlimits), uint64(o.Stats.Backlog), uint64(o.Stats.Qlen)
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// Installed reports whether the HTB roots are in place.
func (s *Shaper) Installed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.installed
}

// Skipped lists the configured ports ips does not shape.
func (s *Shaper) Skipped() []Skipped {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.skip)
}

// Ports names the ports being shaped.
func (s *Shaper) Ports() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.ports {
		out = append(out, p.Name)
	}
	return out
}

// Leaf is the leaf qdisc kind in use ("" for the kernel's default).
func (s *Shaper) Leaf() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leaf
}

// Stop puts every port's qdiscs back as they were before start and
// removes the state file.
func (s *Shaper) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.installed {
		for _, p := range s.ports {
			if err := restorePort(s.tc, p.saved); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) == 0 {
			removeState(s.state)
		}
		s.installed = false
	}
	s.tc.Close()
	for _, w := range s.workers {
		w.Close()
	}
	return errors.Join(errs...)
}

// restorePort deletes our root qdisc (the kernel attaches its default
// again) and puts back the root qdisc we took over, if any.
func restorePort(t *tc.Tc, sp *savedPort) error {
	idx := sp.Ifindex
	if ifc, err := net.InterfaceByName(sp.Name); err == nil {
		idx = uint32(ifc.Index)
	} else {
		return nil // the port is gone, and our qdisc with it
	}
	q, err := rootQdisc(t, idx)
	if err != nil {
		return err
	}
	if isOurs(q) {
		// tc qdisc del dev DEV root
		if err := t.Qdisc().Delete(&tc.Object{Msg: tc.Msg{Family: unix.AF_UNSPEC, Ifindex: idx, Handle: Major << 16, Parent: tc.HandleRoot},
			Attribute: tc.Attribute{Kind: "htb", Htb: htbRoot()}}); err != nil {
			return fmt.Errorf("port %s: delete HTB root: %w", sp.Name, err)
		}
	}
	if sp.Foreign != nil {
		f := *sp.Foreign
		f.Ifindex = idx
		if err := t.Qdisc().Add(&f); err != nil {
			return fmt.Errorf("port %s: put back root qdisc %s %s: %w", sp.Name, f.Kind, handleString(f.Handle), err)
		}
	}
	return nil
}

// PortCheck says whether ips can shape a port.
type PortCheck struct {
	Port   string
	OK     bool
	Detail string
	Fix    string
}

// CheckPorts tells, for each port, whether ips run could shape it: the
// port exists and has no root qdisc of someone else's (or takeOver).
func CheckPorts(ports []Port, takeOver bool) []PortCheck {
	t, err := tc.Open(&tc.Config{})
	if err != nil {
		var out []PortCheck
		for _, p := range ports {
			out = append(out, PortCheck{Port: p.Name, Detail: "rtnetlink: " + err.Error(), Fix: "run as root (CAP_NET_ADMIN)"})
		}
		return out
	}
	defer t.Close()
	var out []PortCheck
	for _, p := range ports {
		c := PortCheck{Port: p.Name}
		ifc, err := net.InterfaceByName(p.Name)
		if err != nil {
			c.Detail, c.Fix = err.Error(), "name an existing interface"
			out = append(out, c)
			continue
		}
		q, err := rootQdisc(t, uint32(ifc.Index))
		switch {
		case err != nil:
			c.Detail, c.Fix = err.Error(), "run as root (CAP_NET_ADMIN)"
		case isOurs(q):
			c.OK, c.Detail = true, "carries ips's HTB (a running ips, or one that died: ips doctor --cleanup)"
		case isDefault(q):
			c.OK = true
			c.Detail = "the kernel's default qdisc: HTB will be installed on its egress"
			if q != nil {
				c.Detail = fmt.Sprintf("the kernel's default qdisc (%s): HTB will be installed on its egress", q.Kind)
			}
		case takeOver:
			c.OK, c.Detail = true, fmt.Sprintf("root qdisc %s %s will be taken over (--take-over-qdisc) and put back on stop", q.Kind, handleString(q.Handle))
		default:
			c.Detail = fmt.Sprintf("has a root qdisc of its own (%s %s): left alone, not shaped", q.Kind, handleString(q.Handle))
			c.Fix = "remove it, or run with --take-over-qdisc"
		}
		out = append(out, c)
	}
	return out
}
