package policy

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"ips/dpi"
	"ips/pools"
	"ips/verdict"
)

// compiler turns the source model into a Set, reporting every problem.
type compiler struct {
	src *source
	d   *diags
	opt LoadOptions
	dir string
	set *Set

	layout        verdict.MarkLayout
	shaperByName  map[string]int
	shaperByClass map[uint16]int
	protoCands    []string

	// per source policy
	defined map[int64]bool // ids defined, valid or not
	srcToC  []int32        // compiled index, -1 when not compiled
	// per compiled policy
	srcOf   []int
	parentC []int32
	own     [][numTables][]ownEntry
	ownSum  [][numSums]summary
	ownDef  []uint32
	ownScr  []uint32
	scrMin  []int

	geoLocOff, geoASNOff int // first country/continent and ASN entries

	// Hostname entries (see resolveHosts).
	ownHosts    []int                   // per compiled policy: its hostname entries
	hasChild    []bool                  // per compiled policy: some policy inherits from it
	hostOff     []uint32                // per host rule: the key's offset in the file
	hostShared  map[hostShareKey]uint32 // the rule each (policy, marker) shares
	markerCache map[string]mval         // markers already resolved, by their text
	excRisks    [][]string              // per risk exception: its risks' canonical names
	nameBuf     []byte
}

type hostShareKey struct {
	policy int32
	act    verdict.Action
	class  uint16
}

type ownEntry struct {
	key   uint32 // protocol id, master<<16|app, category, country, AS number, risk id, proto<<16|low port
	hi    uint32 // ports: proto<<16|high port
	pair  bool
	host  string
	hkind pools.HostKind
	conts pools.ContinentSet
	rule  uint32
	// srcIndex is the entry's index in the source table.
	srcIndex int
}

// mval is a resolved marker.
type mval struct {
	act   verdict.Action
	class uint16
	text  string
}

func (c *compiler) compile() *Set {
	c.set = &Set{
		file:              c.src.f.name,
		format:            c.src.format,
		root:              -1,
		rules:             make([]rule, 1), // index 0 is "no rule"
		hostInheritedLazy: &sync.Map{},
		hosts:             pools.NewHosts[uint32](),
		pairs:             map[uint32][]owned{},
		asns:              map[uint32][]owned{},
		byID:              map[int64]int32{},
	}
	c.set.dropUninspectable = c.src.onUninspectable.s == "drop"
	c.geoLocOff, c.geoASNOff = -1, -1
	mask := c.opt.MarkMask
	if mask == 0 {
		mask = verdict.DefaultMarkMask
	}
	layout, err := verdict.NewMarkLayout(mask)
	if err != nil {
		c.d.errorf(nil, 0, "%v", err)
		return nil
	}
	c.layout = layout
	c.set.layout = layout
	c.shapers()
	c.catalog()
	c.policies()
	c.pools()
	c.riskExceptions()
	c.geo()
	c.finish()
	if c.d.errs > 0 {
		return nil
	}
	return c.set
}

func (c *compiler) errorf(off int, format string, args ...any) {
	c.d.errorf(c.src.f, off, format, args...)
}

func (c *compiler) warnf(off int, format string, args ...any) {
	c.d.warnf(c.src.f, off, format, args...)
}

// problem is an error in the native format and a warning in nProbe's.
func (c *compiler) problem(off int, format string, args ...any) {
	c.d.add(c.src.f, off, c.src.format != FormatNative, format, args...)
}

// at renders an offset as "line:col" for messages that point elsewhere.
func (c *compiler) at(off int) string {
	l, col := c.src.f.pos(off)
	return fmt.Sprintf("%d:%d", l, col)
}

func (c *compiler) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// ---- shapers ----

func (c *compiler) shapers() {
	c.shaperByName = map[string]int{}
	c.shaperByClass = map[uint16]int{}
	maxClass := c.layout.MaxClass()
	var pending []int
	for _, s := range c.src.shapers {
		name := s.name.s
		if !validShaperName(name) {
			c.errorf(s.name.off, "shaper name %q: use letters, digits, '-', '_' and '.'", name)
			continue
		}
		if _, dup := c.shaperByName[strings.ToLower(name)]; dup {
			c.errorf(s.name.off, "shaper %q is defined twice", name)
			continue
		}
		sh := Shaper{Name: name, Description: s.description}
		if s.rate.off < 0 {
			c.errorf(s.off, "shaper %q has no \"rate\"", name)
		} else if v, err := parseRate(s.rate.s); err != nil {
			c.errorf(s.rate.off, "shaper %q: %v", name, err)
		} else {
			sh.Rate = v
		}
		if s.per.s != "" {
			if p, err := verdict.ParseShaperPer(s.per.s); err != nil {
				c.errorf(s.per.off, "shaper %q: %v", name, err)
			} else {
				sh.Per = p
			}
		}
		sh.Ceil = sh.Rate
		if s.ceil.off >= 0 {
			if v, err := parseRate(s.ceil.s); err != nil {
				c.errorf(s.ceil.off, "shaper %q: %v", name, err)
			} else if v < sh.Rate {
				c.errorf(s.ceil.off, "shaper %q: ceil %s is below its rate %s", name, s.ceil.s, s.rate.s)
			} else {
				sh.Ceil = v
			}
		}
		i := len(c.set.shapers)
		if s.hasClass {
			switch {
			case s.class < 1 || s.class > int64(maxClass):
				c.errorf(s.classOff, "shaper %q: class %d does not fit the mark layout (mask %#08x carries classes 1–%d)", name, s.class, c.layout.Mask(), maxClass)
			default:
				if j, dup := c.shaperByClass[uint16(s.class)]; dup {
					c.errorf(s.classOff, "shaper %q: class %d is already used by shaper %q", name, s.class, c.set.shapers[j].Name)
				} else {
					sh.Class = uint16(s.class)
					c.shaperByClass[sh.Class] = i
				}
			}
		} else {
			pending = append(pending, i)
		}
		c.shaperByName[strings.ToLower(name)] = i
		c.set.shapers = append(c.set.shapers, sh)
	}
	next := uint16(1)
	for _, i := range pending {
		for ; next <= maxClass; next++ {
			if _, used := c.shaperByClass[next]; !used {
				break
			}
		}
		if next > maxClass {
			c.errorf(c.src.shapers[i].off, "shaper %q: no class left in the mark layout (mask %#08x carries classes 1–%d)", c.set.shapers[i].Name, c.layout.Mask(), maxClass)
			continue
		}
		c.set.shapers[i].Class = next
		c.shaperByClass[next] = i
	}
}

func validShaperName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// parseRate reads a rate as tc writes it: a number of bits per second,
// or a number with a unit: bit, kbit, mbit, gbit, tbit (powers of 1000)
// or bps, kbps, mbps, gbps, tbps (bytes per second); "/s" is optional.
func parseRate(s string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "/s")
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("bad rate %q: want a number with a unit such as 10mbit", s)
	}
	mult := map[string]float64{
		"": 1, "bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "tbit": 1e12,
		"bps": 8, "kbps": 8e3, "mbps": 8e6, "gbps": 8e9, "tbps": 8e12,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("bad rate %q: unknown unit %q (want bit, kbit, mbit, gbit, tbit, bps, kbps, mbps, gbps or tbps)", s, unit)
	}
	bps := v * mult
	if bps < 1 || bps > 1e15 {
		return 0, fmt.Errorf("rate %q is out of range", s)
	}
	return uint64(bps), nil
}

// ---- markers ----

func (c *compiler) markerCandidates() []string {
	out := []string{"pass", "drop", "reject"}
	for _, s := range c.set.shapers {
		out = append(out, "shape:"+s.Name)
	}
	return out
}

// marker resolves "pass", "drop", "reject", "shape:NAME", a shaper's bare
// name, or nProbe's integer markers: 1 pass, 2 drop, any other number the
// shaper of that class, else a mark for the operator's own rules.
func (c *compiler) marker(m smarker) (mval, bool) {
	s := strings.TrimSpace(m.s)
	if m.num || (s != "" && strings.Trim(s, "0123456789") == "") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			c.errorf(m.off, "marker %s: want \"pass\", \"drop\", \"reject\", \"shape:NAME\" or a positive number", s)
			return mval{}, false
		}
		switch n {
		case 0:
			c.errorf(m.off, "marker 0 means \"no verdict yet\" to nProbe; write \"pass\" (or 1)")
			return mval{}, false
		case 1:
			return mval{act: verdict.Pass, text: "pass"}, true
		case 2:
			return mval{act: verdict.Drop, text: "drop"}, true
		}
		if n > int64(c.layout.MaxClass()) {
			c.errorf(m.off, "marker %d does not fit the mark layout: mask %#08x carries classes 1–%d (widen the mark mask or use a smaller number)", n, c.layout.Mask(), c.layout.MaxClass())
			return mval{}, false
		}
		if i, ok := c.shaperByClass[uint16(n)]; ok {
			return mval{act: verdict.Shape, class: uint16(n), text: "shape:" + c.set.shapers[i].Name}, true
		}
		return mval{act: verdict.Mark, class: uint16(n), text: "mark " + s}, true
	}
	switch strings.ToLower(s) {
	case "pass":
		return mval{act: verdict.Pass, text: "pass"}, true
	case "drop":
		return mval{act: verdict.Drop, text: "drop"}, true
	case "reject":
		return mval{act: verdict.Reject, text: "reject"}, true
	}
	name, isShape := strings.CutPrefix(s, "shape:")
	if !isShape {
		name = s
	}
	if i, ok := c.shaperByName[strings.ToLower(strings.TrimSpace(name))]; ok {
		sh := c.set.shapers[i]
		return mval{act: verdict.Shape, class: sh.Class, text: "shape:" + sh.Name}, true
	}
	if isShape {
		var names []string
		for _, sh := range c.set.shapers {
			names = append(names, sh.Name)
		}
		if len(names) == 0 {
			c.errorf(m.off, "marker %q: no shaper %q is defined (add it to \"shapers\")", s, name)
		} else {
			c.errorf(m.off, "marker %q: no shaper %q is defined%s", s, name, suggest(name, names))
		}
		return mval{}, false
	}
	c.errorf(m.off, "unknown marker %q (want pass, drop, reject, shape:NAME or a number)%s", s, suggest(s, c.markerCandidates()))
	return mval{}, false
}

// out is the marker as the native format writes it: a name, or the
// number of an operator's mark.
func (m mval) out() any {
	if m.act == verdict.Mark {
		return int(m.class)
	}
	return m.text
}

func rank(a verdict.Action) uint8 {
	switch a {
	case verdict.Drop:
		return 5
	case verdict.Reject:
		return 4
	case verdict.Shape:
		return 3
	case verdict.Mark:
		return 2
	}
	return 1
}

func (c *compiler) newRule(ci int32, m mval, text string) uint32 {
	inh := text
	if ci >= 0 {
		inh = fmt.Sprintf("%s (inherited from policy %d)", text, c.set.policies[ci].id)
	}
	c.set.rules = append(c.set.rules, rule{act: m.act, class: m.class, rank: rank(m.act), policy: ci, text: text, inherited: inh})
	return uint32(len(c.set.rules) - 1)
}

// ---- catalog: custom protocols and category files ----

func (c *compiler) catalog() {
	var rules [][2]string // name, contents
	readRules := func(name string, off int, fromFile bool) {
		data, err := os.ReadFile(name)
		if err != nil {
			if fromFile {
				c.errorf(off, "custom_protocols: %v", err)
			} else {
				c.d.addRaw(Diagnostic{File: name, Msg: err.Error()})
			}
			return
		}
		rules = append(rules, [2]string{name, string(data)})
	}
	for _, f := range c.opt.CatalogFiles {
		readRules(f, -1, false)
	}
	for _, f := range c.src.protoFiles {
		if f.s == "" {
			c.errorf(f.off, "custom_protocols: empty file name")
			continue
		}
		readRules(c.path(f.s), f.off, true)
	}
	build := func(report bool) *dpi.CatalogBuilder {
		cb := dpi.NewCatalogBuilder(false)
		for _, r := range rules {
			if err := cb.AddRules(r[0], strings.NewReader(r[1])); err != nil && report {
				c.catalogErrors(err)
			}
		}
		return cb
	}
	cb := build(true)

	type catFile struct {
		f   *srcFile
		def dpi.CategoryID
	}
	var files []catFile
	lines, size := 0, 0
	for _, cf := range c.src.catFiles {
		if cf.file.s == "" {
			c.errorf(cf.file.off, "category_file: empty file name")
			continue
		}
		p := c.path(cf.file.s)
		def, _ := fileCategory(p)
		if cf.category.off >= 0 {
			cat, ok := dpi.CategoryByName(cf.category.s)
			if !ok {
				c.errorf(cf.category.off, "unknown category %q%s", cf.category.s, suggest(cf.category.s, categoryCandidates()))
				continue
			}
			def = cat
		}
		data, err := os.ReadFile(p)
		if err != nil {
			c.errorf(cf.file.off, "category_file: %v", err)
			continue
		}
		files = append(files, catFile{newSrcFile(p, data), def})
		lines += bytes.Count(data, []byte{'\n'}) + 1
		size += len(data)
	}
	if len(files) == 0 {
		c.set.catalog = cb.Build()
		c.protoCandidates()
		return
	}
	// Category entries keep the application the catalog already gives
	// the name or address, so a listed host stays YouTube but in Malware.
	// A listed name the catalog gives no application is not added to the
	// catalog: the policy finds its category in catHosts, and a blocklist
	// of 1.5 M names would otherwise cost the engine's map 100 MiB more
	// (README, "Hostile policy input").
	probe := cb.Build()
	cb = build(false)
	catHosts := pools.NewHosts[dpi.CategoryID]()
	catHosts.Grow(pools.Domain, lines, size)
	var pfx []netip.Prefix
	var pcat []dpi.CategoryID
	for _, cf := range files {
		parseCategoryFile(cf.f, cf.def, c.d, func(e catEntry) {
			if e.isAddr {
				en, _ := probe.Addr(e.prefix.Addr())
				cb.AddPrefix(e.prefix, dpi.CatalogEntry{App: en.App, Category: e.cat})
				pfx, pcat = append(pfx, e.prefix), append(pcat, e.cat)
				return
			}
			catHosts.SetBytes(e.host, e.kind, e.cat)
			if e.kind == pools.Subdomains {
				return
			}
			host := string(e.host)
			if en, _ := probe.Host(host); en.App != 0 {
				cb.AddHost(host, e.kind == pools.Exact, dpi.CatalogEntry{App: en.App, Category: e.cat})
			}
		})
	}
	if catHosts.Len() > 0 {
		c.set.catHosts = catHosts
	}
	if len(pfx) > 0 {
		c.set.catAddrs = pools.NewPrefixes(pfx, pcat)
	}
	c.set.catalog = cb.Build()
	c.protoCandidates()
}

// catalogErrors turns the catalog's "file:line: message" lines into
// diagnostics.
func (c *compiler) catalogErrors(err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		dg := Diagnostic{Msg: line}
		if loc, msg, ok := strings.Cut(line, ": "); ok {
			if k := strings.LastIndexByte(loc, ':'); k > 0 {
				if n, err := strconv.Atoi(loc[k+1:]); err == nil {
					dg = Diagnostic{File: loc[:k], Line: n, Col: 1, Msg: msg}
				}
			}
		}
		c.d.addRaw(dg)
	}
}

func (c *compiler) protoCandidates() {
	c.protoCands = append(dpi.ProtoNames(), c.set.catalog.CustomProtocols()...)
}

// ---- policies ----

func (c *compiler) policies() {
	sp := c.src.policies
	c.defined = make(map[int64]bool, len(sp))
	for _, p := range sp {
		c.defined[p.id] = true
	}
	idx := make(map[int64]int, len(sp))
	dup := make([]bool, len(sp))
	for i, p := range sp {
		if j, ok := idx[p.id]; ok {
			c.errorf(p.idOff, "policy %d is defined twice (first at %s)", p.id, c.at(sp[j].idOff))
			dup[i] = true
			continue
		}
		idx[p.id] = i
	}
	_, hasRoot := idx[0]
	// A policy with a bad parent (missing, itself, a cycle) is still
	// compiled, as a top-level one, so that its own entries and its
	// children's are checked too: one mistake must not hide the others.
	// A policy defined twice is compiled for its errors only. The Set is
	// refused anyway.
	parent := make([]int, len(sp))
	word := "parent"
	if c.src.format == FormatNProbe {
		word = "root"
	}
	for i, p := range sp {
		parent[i] = -1
		if dup[i] || !p.hasParent {
			continue
		}
		switch {
		case c.src.format == FormatNProbe && p.parent == 0 && (p.id == 0 || !hasRoot):
			// nProbe/nFW: "root": 0 means "under the global policy 0",
			// or no parent when there is none (or on policy 0 itself).
			continue
		case p.parent == p.id:
			c.errorf(p.parentOff, "policy %d is its own %s", p.id, word)
			continue
		}
		j, ok := idx[p.parent]
		if !ok {
			c.errorf(p.parentOff, "%s %d of policy %d is not defined", word, p.parent, p.id)
			continue
		}
		parent[i] = j
	}

	// Cycles: walk up from each policy; a policy met twice on one walk
	// closes a cycle.
	state := make([]uint8, len(sp)) // 0 new, 1 on the current walk, 2 done
	for i := range sp {
		var walk []int
		j := i
		for j >= 0 && state[j] == 0 {
			state[j] = 1
			walk = append(walk, j)
			j = parent[j]
		}
		if j >= 0 && state[j] == 1 { // a cycle: from j around to j
			var ids []string
			k := len(walk) - 1
			for walk[k] != j {
				k--
			}
			for _, w := range walk[k:] {
				ids = append(ids, strconv.FormatInt(sp[w].id, 10))
			}
			ids = append(ids, strconv.FormatInt(sp[j].id, 10))
			c.errorf(sp[j].parentOff, "policies %s form a cycle", strings.Join(ids, " → "))
			// Cut the cycle at j so that its members are still compiled
			// (and checked), as top-level policies.
			parent[j] = -1
		}
		for _, w := range walk {
			state[w] = 2
		}
	}
	c.srcToC = make([]int32, len(sp))
	for i := range sp {
		c.srcToC[i] = -1
		if state[i] != 2 {
			continue
		}
		ci := int32(len(c.set.policies))
		c.srcToC[i] = ci
		c.set.policies = append(c.set.policies, cpolicy{id: sp[i].id, name: sp[i].name})
		if !dup[i] {
			// A second definition is compiled for its errors only.
			c.set.byID[sp[i].id] = ci
		}
		c.srcOf = append(c.srcOf, i)
	}
	c.parentC = make([]int32, len(c.set.policies))
	for ci, i := range c.srcOf {
		c.parentC[ci] = -1
		if parent[i] >= 0 {
			c.parentC[ci] = c.srcToC[parent[i]]
		}
	}
	if ci, ok := c.set.byID[0]; ok {
		c.set.root = ci
	}
	// Chains.
	for ci := range c.set.policies {
		p := &c.set.policies[ci]
		var ids []string
		for k := int32(ci); k >= 0; k = c.parentC[k] {
			p.chain = append(p.chain, k)
			if k != int32(ci) {
				ids = append(ids, strconv.FormatInt(c.set.policies[k].id, 10))
			}
		}
		p.chainText = fmt.Sprintf("policy %d", p.id)
		if len(ids) > 0 {
			p.chainText += " (⊂ " + strings.Join(ids, " ⊂ ") + ")"
		}
	}
	n := len(c.set.policies)
	c.hasChild = make([]bool, n)
	for _, pc := range c.parentC {
		if pc >= 0 {
			c.hasChild[pc] = true
		}
	}
	c.ownHosts = make([]int, n)
	c.own = make([][numTables][]ownEntry, n)
	c.ownSum = make([][numSums]summary, n)
	c.ownDef = make([]uint32, n)
	c.ownScr = make([]uint32, n)
	c.scrMin = make([]int, n)
	c.growHosts()
	for ci, i := range c.srcOf {
		c.resolvePolicy(int32(ci), &sp[i])
		c.resolveHosts(int32(ci), &sp[i])
	}
	for k := range c.set.hostText {
		c.set.hostText[k] = c.set.hosts.Table(pools.HostKind(k)).Text()
	}
	if n := len(c.set.hostRules); n > 0 && n <= eagerInherited {
		c.set.hostInherited = make([]string, n)
		for i := range c.set.hostRules {
			if h := &c.set.hostRules[i]; c.hasChild[h.policy] {
				c.set.hostInherited[i] = c.set.inheritedHostText(h)
			}
		}
	}
	c.hostOff = nil
	c.merge()
}

// resolvePolicy resolves one policy's own entries into rules.
func (c *compiler) resolvePolicy(ci int32, p *spolicy) {
	if p.def != nil {
		if m, ok := c.marker(*p.def); ok {
			c.ownDef[ci] = c.newRule(ci, m, "default_marker → "+m.text)
			p.defOut = m.out()
		}
	}
	if p.score != nil {
		if m, ok := c.marker(p.score.m); ok {
			p.score.out = m.out()
			c.ownScr[ci] = c.newRule(ci, m, fmt.Sprintf("risk score ≥ %d → %s", p.score.min, m.text))
			c.scrMin[ci] = int(p.score.min)
			c.ownSum[ci][sumRisk].add(c.set.rules[c.ownScr[ci]].key())
		}
	}
	for t := table(0); t < numTables; t++ {
		seen := map[string]int{} // dedup key → index in own list
		for ei := range p.tables[t] {
			e := &p.tables[t][ei]
			oe, dupKeys, ok := c.resolveKey(t, e)
			if !ok {
				continue
			}
			m, ok := c.marker(e.m)
			if !ok {
				continue
			}
			oe.rule = c.newRule(ci, m, tableNoun[t]+" "+e.canon+" → "+m.text)
			e.out = m.out()
			for _, dk := range dupKeys {
				if j, dup := seen[dk]; dup {
					prev := p.tables[t][j]
					later := ""
					if c.src.format == FormatNProbe {
						later = "; the later one is used"
					}
					c.problem(e.key.off, "policy %d: %s %s is listed twice (also at %s as %q)%s", p.id, tableNoun[t], e.canon,
						c.at(prev.key.off), prev.key.s, later)
					// Later wins in the nProbe format.
					c.removeOwn(ci, t, j)
				}
				seen[dk] = ei
			}
			oe.srcIndex = ei
			c.own[ci][t] = append(c.own[ci][t], oe)
			switch t {
			case tHostnames:
				c.ownSum[ci][sumHost].add(c.set.rules[oe.rule].key())
			case tProtocols:
				if oe.pair {
					c.ownSum[ci][sumProto].add(c.set.rules[oe.rule].key())
				}
			case tASN:
				if c.geoASNOff < 0 {
					c.geoASNOff = e.key.off
				}
			case tCountries, tContinents:
				if c.geoLocOff < 0 {
					c.geoLocOff = e.key.off
				}
			}
		}
	}
	c.checkPortOverlap(p, c.own[ci][tPorts])
}

// checkPortOverlap refuses ranges of one policy that overlap: which of
// them was meant for the ports they share is not written anywhere. (The
// same key twice is reported as listed twice.)
func (c *compiler) checkPortOverlap(p *spolicy, es []ownEntry) {
	if len(es) < 2 {
		return
	}
	o := append([]ownEntry(nil), es...)
	sort.Slice(o, func(i, j int) bool { return o[i].key < o[j].key })
	for i := 1; i < len(o); i++ {
		a, b := &p.tables[tPorts][o[i-1].srcIndex], &p.tables[tPorts][o[i].srcIndex]
		if o[i].key <= o[i-1].hi && a.canon != b.canon {
			c.errorf(b.key.off, "policy %d: ports %s overlaps %s (at %s); split the ranges so that each port has one entry", p.id, b.canon, a.canon, c.at(a.key.off))
		}
		if o[i].hi < o[i-1].hi {
			o[i] = o[i-1] // keep the widest range for the next comparison
		}
	}
}

// removeOwn drops the own entry that came from source entry j (a key
// listed again later).
func (c *compiler) removeOwn(ci int32, t table, j int) {
	l := c.own[ci][t]
	for k := range l {
		if l[k].srcIndex == j {
			c.own[ci][t] = append(l[:k], l[k+1:]...)
			return
		}
	}
}

// ---- hostnames ----
//
// A policy's hostnames are read from the file entry by entry (the JSON
// reader leaves their objects lazy) straight into the Set's tables: the
// name into the compact pattern table, one 20-byte hostRule, and the
// rule's explanation into one shared text. A blocklist of 1.5 million
// names thus costs about 100 bytes a name, where a rule, a source entry,
// a JSON node and map entries each cost over 600 (README, "Hostile policy
// input").

// hostRule is one policy's entry for a hostname pattern. Entries for the
// same pattern (from several policies) are chained through next. Its
// explanation, "hostname NAME → MARKER", is written in the text of the
// pattern table of its kind, around the name itself; the form inherited
// by other policies is built when first needed (Set.inheritedText).
type hostRule struct {
	policy int32
	rule   uint32 // the rule it shares with the policy's other entries of its marker
	off    uint32 // explanation: hostText[kind][off:off+tlen]
	tlen   uint16
	kind   pools.HostKind
	next   uint32
}

// eagerInherited is the number of hostname rules up to which their
// inherited explanations are built at compilation, not on first use.
const eagerInherited = 1 << 16

const (
	// hostBit marks rule numbers that name a hostRule, not a rule.
	hostBit uint32 = 1 << 31
	noHost  uint32 = ^uint32(0)
)

// growHosts sizes the tables for every policy's hostnames at once, so
// that a big list is not copied as its tables double.
func (c *compiler) growHosts() {
	n, span := 0, 0
	for _, i := range c.srcOf {
		p := &c.src.policies[i]
		n += p.hostCount
		for _, h := range p.hosts {
			span += c.objectSpan(h)
		}
	}
	if n == 0 {
		return
	}
	c.set.hostRules = make([]hostRule, 0, n)
	c.hostOff = make([]uint32, 0, n)
	// "hostname NAME → MARKER" per name, which the span of the JSON
	// ("NAME": "MARKER",) nearly bounds; capacity never written costs
	// no memory.
	c.set.hosts.Grow(pools.Domain, n, span+n*12)
}

// objectSpan is the size in bytes of a lazy JSON object in the file.
func (c *compiler) objectSpan(n *jnode) int {
	if n.lazy {
		return n.end - n.off
	}
	return 0
}

// resolveHosts reads one policy's hostnames tables.
func (c *compiler) resolveHosts(ci int32, p *spolicy) {
	if c.markerCache == nil {
		c.markerCache = map[string]mval{}
		c.hostShared = map[hostShareKey]uint32{}
	}
	for _, obj := range p.hosts {
		eachMember(c.src.f.src, obj, func(key []byte, koff int, v jscalar) {
			if v.kind != jString && v.kind != jNumber {
				c.errorf(v.off, "hostname %q: want a marker (\"pass\", \"drop\", \"reject\", \"shape:NAME\" or a number), not %s", key, describe(v.node))
				return
			}
			name, kind, err := pools.AppendHostPattern(c.nameBuf[:0], key)
			c.nameBuf = name
			if err != nil {
				c.errorf(koff, "%v", err)
				return
			}
			m, ok := c.markerCache[string(v.raw)]
			if !ok {
				if m, ok = c.marker(smarker{off: v.off, s: string(v.raw), num: v.kind == jNumber}); !ok {
					return
				}
				c.markerCache[string(v.raw)] = m
			}
			c.addHost(ci, p, name, kind, koff, m)
		})
	}
}

// addHost records one hostname entry of policy ci.
func (c *compiler) addHost(ci int32, p *spolicy, name []byte, kind pools.HostKind, koff int, m mval) {
	s := c.set
	sk := hostShareKey{ci, m.act, m.class}
	shared, ok := c.hostShared[sk]
	if !ok {
		shared = c.newRule(ci, m, "hostname → "+m.text)
		c.hostShared[sk] = shared
		c.ownSum[ci][sumHost].add(s.rules[shared].key())
	}
	tab := s.hosts.Table(kind)
	idx := tab.IndexBytes(name)
	off := tab.TextLen()
	tab.WriteString("hostname ")
	switch kind {
	case pools.Subdomains:
		tab.WriteString("*.")
	case pools.Exact:
		tab.WriteString("=")
	}
	nameAt := tab.TextLen()
	tab.Write(name)
	tab.WriteString(" → ")
	tab.WriteString(m.text)
	hr := hostRule{policy: ci, rule: shared, off: uint32(off), tlen: uint16(tab.TextLen() - off), kind: kind, next: noHost}
	if idx >= 0 {
		head := *tab.Value(idx)
		for j := head; j != noHost; j = s.hostRules[j].next {
			if s.hostRules[j].policy != ci {
				continue
			}
			later := ""
			if c.src.format == FormatNProbe {
				later = "; the later one is used"
			}
			prev := int(c.hostOff[j])
			prevKey, _ := (&jparser{src: c.src.f.src, i: prev}).string()
			c.problem(koff, "policy %d: hostname %s is listed twice (also at %s as %q)%s", p.id, pools.FormatHost(string(name), kind),
				c.at(prev), prevKey, later)
			// The later one is used.
			hr.next = s.hostRules[j].next
			s.hostRules[j] = hr
			c.hostOff[j] = uint32(koff)
			return
		}
		hr.next = head
	}
	s.hostRules = append(s.hostRules, hr)
	c.hostOff = append(c.hostOff, uint32(koff))
	n := uint32(len(s.hostRules) - 1)
	if idx >= 0 {
		*tab.Value(idx) = n
	} else {
		tab.PutAt(nameAt, len(name), n)
	}
	c.ownHosts[ci]++
}

// resolveKey resolves one table key, reporting misspellings with the
// nearest known name. It returns the keys under which duplicates are
// detected (one per continent for a continent group).
func (c *compiler) resolveKey(t table, e *sentry) (ownEntry, []string, bool) {
	var oe ownEntry
	k := strings.TrimSpace(e.key.s)
	off := e.key.off
	switch t {
	case tProtocols:
		return c.resolveProto(e, k, off)
	case tCategories:
		id, ok := dpi.CategoryByName(k)
		if !ok {
			c.errorf(off, "unknown category %q%s", k, suggest(k, categoryCandidates()))
			return oe, nil, false
		}
		oe.key = uint32(id)
		e.canon = id.String()
	case tCountries:
		cc, ok := pools.LookupCountry(k)
		if !ok {
			hint := suggest(k, pools.CountryCandidates())
			if hint == "" && len(k) != 2 {
				hint = " (countries are ISO 3166 two-letter codes such as \"IT\")"
			}
			c.errorf(off, "unknown country %q%s", k, hint)
			return oe, nil, false
		}
		oe.key = uint32(cc)
		e.canon = cc.String()
	case tContinents:
		set, ok := pools.ParseContinent(k)
		if !ok {
			c.errorf(off, "unknown continent %q%s", k, suggest(k, pools.ContinentCandidates()))
			return oe, nil, false
		}
		oe.conts = set
		e.canon = k
		var keys []string
		set.Each(func(ct pools.Continent) { keys = append(keys, ct.Code()) })
		if len(keys) == 1 {
			set.Each(func(ct pools.Continent) { e.canon = ct.String() })
		}
		return oe, keys, true
	case tASN:
		s := strings.TrimPrefix(strings.ToUpper(k), "AS")
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || n == 0 {
			c.errorf(off, "bad AS number %q: want a number such as \"15169\" or \"AS15169\"", k)
			return oe, nil, false
		}
		oe.key = uint32(n)
		e.canon = strconv.FormatUint(n, 10)
	case tHostnames:
		h, kind, err := pools.ParseHostPattern(k)
		if err != nil {
			c.errorf(off, "%v", err)
			return oe, nil, false
		}
		oe.host, oe.hkind = h, kind
		e.canon = pools.FormatHost(h, kind)
	case tRisks:
		id, ok := dpi.RiskByName(k)
		if !ok {
			if k == "0" {
				c.errorf(off, "flow risk 0 is NDPI_NO_RISK and matches nothing")
			} else {
				c.errorf(off, "unknown flow risk %q%s", k, suggest(k, riskCandidates()))
			}
			return oe, nil, false
		}
		oe.key = uint32(id)
		e.canon = strings.TrimPrefix(id.Enum(), "NDPI_")
	case tPorts:
		lo, hi, canon, err := parsePortKey(k)
		if err != nil {
			c.errorf(off, "%v", err)
			return oe, nil, false
		}
		oe.key, oe.hi, e.canon = lo, hi, canon
	}
	return oe, []string{e.canon}, true
}

func riskCandidates() []string {
	var out []string
	for r := dpi.RiskID(1); r < dpi.RiskIDLimit; r++ {
		if !r.Valid() {
			continue
		}
		out = append(out, strings.TrimPrefix(strings.TrimPrefix(r.Enum(), "NDPI_"), "IPS_"), r.String())
	}
	return out
}

// resolveProto reads a protocol key: an nDPI name (any case, custom
// protocols included), "MASTER.APP", or a numeric nDPI id. A number that
// is another protocol's well-known port is most likely a port written
// by mistake ("53" is CPHA, DNS is 5), which earns a warning.
func (c *compiler) resolveProto(e *sentry, k string, off int) (ownEntry, []string, bool) {
	var oe ownEntry
	cat := c.set.catalog
	if n, err := strconv.Atoi(k); err == nil {
		if n < 0 || n >= dpi.NumProtocols {
			hint := ""
			if p := portProto(n); p != 0 {
				hint = fmt.Sprintf(" (port %d is %s: write %q)", n, p, p.String())
			}
			c.errorf(off, "unknown protocol id %d%s", n, hint)
			return oe, nil, false
		}
		id := dpi.ProtoID(n)
		if p := portProto(n); p != 0 && p != id {
			c.warnf(off, "protocol key %q is nDPI protocol %d (%s), not port %d (%s, which is protocol %d); write %q if you meant %s",
				k, n, id, n, p, p, p.String(), p)
		}
		oe.key = uint32(id)
		e.canon = id.String()
		return oe, []string{e.canon}, true
	}
	if master, app, dotted := strings.Cut(k, "."); dotted {
		m, ok1 := cat.ProtoByName(master)
		a, ok2 := cat.ProtoByName(app)
		if !ok1 || !ok2 || m == 0 || a == 0 {
			bad := master
			if ok1 {
				bad = app
			}
			c.errorf(off, "unknown protocol %q in %q%s", bad, k, suggest(bad, c.protoCands))
			return oe, nil, false
		}
		oe.pair = true
		oe.key = uint32(m)<<16 | uint32(a)
		e.canon = cat.ProtoName(m) + "." + cat.ProtoName(a)
		return oe, []string{e.canon}, true
	}
	id, ok := cat.ProtoByName(k)
	if !ok {
		c.errorf(off, "unknown protocol %q%s", k, suggest(k, c.protoCands))
		return oe, nil, false
	}
	oe.key = uint32(id)
	e.canon = cat.ProtoName(id)
	return oe, []string{e.canon}, true
}

func portProto(n int) dpi.ProtoID {
	if n <= 0 || n > 65535 {
		return 0
	}
	if p := dpi.PortProto(dpi.IPProtoTCP, uint16(n)); p != 0 {
		return p
	}
	return dpi.PortProto(dpi.IPProtoUDP, uint16(n))
}

// merge builds each policy's effective tables: its chain's entries from
// the top down, so the nearest policy's entry for a key wins, and the
// summaries the finality check uses.
func (c *compiler) merge() {
	s := c.set
	implicit := uint32(0)
	for ci := range s.policies {
		p := &s.policies[ci]
		hasPorts := false
		for k := len(p.chain) - 1; k >= 0; k-- {
			a := p.chain[k]
			hasPorts = hasPorts || len(c.own[a][tPorts]) > 0
			if c.ownDef[a] != 0 {
				p.def = c.ownDef[a]
			}
			if c.ownScr[a] != 0 {
				p.score, p.scoreMin = c.ownScr[a], c.scrMin[a]
				p.hasRisks = true
			}
			for _, e := range c.own[a][tProtocols] {
				if e.pair {
					p.hasPairs = true
					continue
				}
				if int(e.key) >= len(p.proto) {
					p.proto = append(p.proto, make([]uint32, int(e.key)+1-len(p.proto))...)
				}
				p.proto[e.key] = e.rule
			}
			for _, e := range c.own[a][tCategories] {
				if p.cat == nil {
					p.cat = make([]uint32, dpi.NumCategories)
				}
				p.cat[e.key] = e.rule
			}
			for _, e := range c.own[a][tCountries] {
				if p.country == nil {
					p.country = make([]uint32, pools.NumCountrySlots)
				}
				p.country[e.key] = e.rule
			}
			for _, e := range c.own[a][tContinents] {
				e.conts.Each(func(ct pools.Continent) { p.continent[ct] = e.rule })
			}
			for _, e := range c.own[a][tRisks] {
				p.risk[e.key] = e.rule
				p.hasRisks = true
			}
			if c.ownHosts[a] > 0 {
				p.hasHosts = true
			}
			if len(c.own[a][tASN]) > 0 {
				p.hasASN = true
			}
			p.sum[sumHost].merge(c.ownSum[a][sumHost])
			p.sum[sumProto].merge(c.ownSum[a][sumProto])
		}
		if hasPorts {
			levels := make([][]portRange, 0, len(p.chain))
			for _, a := range p.chain {
				var l []portRange
				for _, e := range c.own[a][tPorts] {
					l = append(l, portRange{e.key, e.hi, e.rule})
				}
				sort.Slice(l, func(i, j int) bool { return l[i].lo < l[j].lo })
				levels = append(levels, l)
			}
			p.ports = mergePorts(levels)
		}
		if p.def == 0 {
			if implicit == 0 {
				implicit = c.newRule(-1, mval{act: verdict.Pass, text: "pass"}, "no rule matched → pass (no default_marker in the chain)")
			}
			p.def = implicit
		}
		for _, ri := range p.risk {
			if ri != 0 {
				p.sum[sumRisk].add(s.rules[ri].key())
			}
		}
		if p.score != 0 {
			p.sum[sumRisk].add(s.rules[p.score].key())
		}
		for _, ri := range p.proto {
			if ri != 0 {
				p.sum[sumProto].add(s.rules[ri].key())
			}
		}
		for _, ri := range p.cat {
			if ri != 0 {
				p.sum[sumCat].add(s.rules[ri].key())
			}
		}
	}
	// Shared tables: every policy's own entries, found through the chain
	// at evaluation time.
	for ci := range s.policies {
		for _, e := range c.own[ci][tProtocols] {
			if e.pair {
				s.pairs[e.key] = append(s.pairs[e.key], owned{int32(ci), e.rule})
			}
		}
		for _, e := range c.own[ci][tASN] {
			s.asns[e.key] = append(s.asns[e.key], owned{int32(ci), e.rule})
		}
	}
}

// ---- pools ----

func (c *compiler) pools() {
	sp := c.src.pools
	var entries []pools.Entry
	var where []int // source offset of each entry
	ids := map[int64]int{}
	names := map[string]int{}
	for i, p := range sp {
		label := p.name.s
		if label == "" {
			label = "#" + strconv.FormatInt(p.id, 10)
		}
		if p.hasID {
			if j, dup := ids[p.id]; dup {
				c.errorf(p.idOff, "pool %d is defined twice (first at %s)", p.id, c.at(sp[j].idOff))
			}
			ids[p.id] = i
		}
		if p.name.s != "" {
			if j, dup := names[p.name.s]; dup {
				c.problem(p.name.off, "pool name %q is used twice (first at %s); explanations cannot tell them apart", p.name.s, c.at(sp[j].name.off))
			}
			names[p.name.s] = i
		}
		pol := int32(-1)
		if p.hasPolicy {
			ci, ok := c.set.byID[p.policy]
			if !ok {
				if !c.defined[p.policy] {
					c.errorf(p.policyOff, "pool %s uses policy %d, which is not defined", label, p.policy)
				}
			} else {
				pol = ci
			}
		}
		c.set.poolInfo = append(c.set.poolInfo, poolInfo{id: p.id, label: label, policy: pol})
		n := 0
		for _, ip := range p.ips {
			if strings.TrimSpace(ip.s) == "" {
				c.warnf(ip.off, "pool %s: empty address ignored", label)
				continue
			}
			pfx, err := pools.ParseMember(ip.s)
			if err != nil {
				c.errorf(ip.off, "pool %s: %v", label, err)
				continue
			}
			entries = append(entries, pools.Entry{Pool: int32(i), Prefix: pfx})
			c.set.poolInfo[i].prefixes = append(c.set.poolInfo[i].prefixes, pfx)
			where = append(where, ip.off)
			n++
		}
		for _, m := range p.macs {
			mac, err := pools.ParseMAC(m.s)
			if err != nil {
				c.errorf(m.off, "pool %s: %v", label, err)
				continue
			}
			entries = append(entries, pools.Entry{Pool: int32(i), MAC: mac, IsMAC: true})
			where = append(where, m.off)
			n++
		}
		if n == 0 && len(p.ips)+len(p.macs) == 0 {
			c.warnf(p.off, "pool %s has no addresses or MACs; it matches no host", label)
		}
	}
	tab, conflicts := pools.NewTable(entries)
	for _, cf := range conflicts {
		a, b := entries[cf.First], entries[cf.Second]
		if cf.SamePool {
			c.warnf(where[cf.Second], "pool %s lists %s twice (also at %s)", c.set.poolInfo[a.Pool].label, b, c.at(where[cf.First]))
			continue
		}
		c.errorf(where[cf.Second], "%s is in pool %s and in pool %s (at %s): a host must belong to one pool",
			b, c.set.poolInfo[b.Pool].label, c.set.poolInfo[a.Pool].label, c.at(where[cf.First]))
	}
	c.set.pools = tab
	c.set.stats.PoolEntries = tab.Len()
}

// ---- GeoIP ----

func (c *compiler) geo() {
	needLoc, needASN := c.geoLocOff >= 0, c.geoASNOff >= 0
	loc, asn := c.opt.GeoIP, c.opt.GeoIPASN
	locOff, asnOff := -1, -1
	if loc == "" && c.src.geoLoc.s != "" {
		loc, locOff = c.path(c.src.geoLoc.s), c.src.geoLoc.off
	}
	if asn == "" && c.src.geoASN.s != "" {
		asn, asnOff = c.path(c.src.geoASN.s), c.src.geoASN.off
	}
	if needLoc && loc == "" {
		c.errorf(c.geoLocOff, "countries and continents need a GeoIP City or Country database: add {\"geoip\": {\"city\": FILE}} or run with --geoip FILE")
	}
	if loc == "" && asn == "" {
		if needASN {
			c.errorf(c.geoASNOff, "AS numbers need a GeoIP ASN database: add {\"geoip\": {\"asn\": FILE}} or run with --geoip-asn FILE")
		}
		return
	}
	for {
		key := geoKey(loc, asn)
		if prev := c.opt.Previous; prev != nil && key != "" && prev.geoKey == key {
			c.set.geo, c.set.geoKey = prev.geo, key
			break
		}
		g, err := pools.OpenGeo(loc, asn)
		if err == nil {
			c.set.geo, c.set.geoKey = g, key
			break
		}
		// The error names the database that failed (pools.GeoError).
		isLoc := false
		if ge := (*pools.GeoError)(nil); errors.As(err, &ge) {
			isLoc = ge.Location
		}
		off, fail := asnOff, needASN
		if isLoc {
			off, fail = locOff, needLoc
		}
		if fail {
			c.errorf(off, "%v", err)
			return
		}
		c.warnf(off, "%v (no rule needs it)", err)
		// Keep the other database: rules may need it.
		if isLoc {
			loc = ""
		} else {
			asn = ""
		}
		if loc == "" && asn == "" {
			return
		}
	}
	// A location database with AS numbers (IPinfo's) serves ASN rules
	// without an ASN database.
	if needASN && !c.set.geo.HasASN() {
		c.errorf(c.geoASNOff, "AS numbers need a GeoIP ASN database (%s has none): add {\"geoip\": {\"asn\": FILE}} or run with --geoip-asn FILE", loc)
	}
	c.set.needLoc, c.set.needASN = needLoc, needASN
}

// geoKey identifies database files by path, size and modification time.
func geoKey(paths ...string) string {
	var b bytes.Buffer
	for _, p := range paths {
		if p == "" {
			b.WriteString("-|")
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return ""
		}
		fmt.Fprintf(&b, "%s:%d:%d|", p, st.Size(), st.ModTime().UnixNano())
	}
	return b.String()
}

// ---- warnings and statistics ----

// refuseEmpty refuses a policy that would pass every flow without anyone
// having written so: an IPS that silently passes everything is a door
// left open. "Effectively empty" means that no policy which judges a
// host (policy 0 for the hosts in no pool, each pool's policy, and their
// parents) has any entry: no markers, no flow_risk, no default_marker.
// That covers an empty or blank file, comments only, [], {}, a document
// with only "version", pools without policies, and policies without
// rules. A policy that writes "default_marker": "pass" passes everything
// on purpose and is accepted. used marks the policies that judge a host.
func (c *compiler) refuseEmpty(used []bool) {
	const fix = `write your rules, or "default_marker": "pass" on policy 0 to pass everything on purpose`
	example := `{"version": 1, "policies": [{"id": 0, "default_marker": "pass"}]}`
	if c.src.format == FormatNProbe {
		example = `{"policy": {"id": 0, "default_marker": "pass"}}`
	}
	if len(c.src.policies) == 0 {
		c.d.errorf(c.src.f, -1, "the policy is empty: it defines no policy, so every flow would pass unjudged; %s, e.g. %s", fix, example)
		return
	}
	for ci, u := range used {
		if u && c.hasEntries(&c.src.policies[c.srcOf[ci]]) {
			return
		}
	}
	c.d.errorf(c.src.f, -1, "the policy has no rule: no policy that judges a host (policy 0, a pool's policy or their parents) has markers, flow_risk or a default_marker, so every flow would pass; %s, e.g. %s", fix, example)
}

// hasEntries reports whether a source policy writes any rule, valid or
// not (a misspelt one is reported on its own and must not also make the
// policy look empty).
func (c *compiler) hasEntries(p *spolicy) bool {
	if p.def != nil || p.score != nil || p.hostCount > 0 {
		return true
	}
	for t := range p.tables {
		if len(p.tables[t]) > 0 {
			return true
		}
	}
	return false
}

func (c *compiler) finish() {
	s := c.set
	if s.root < 0 && len(s.policies) > 0 && !c.defined[0] {
		c.warnf(-1, "there is no policy 0: hosts in no pool pass (define policy 0 as the default for everyone else)")
	}
	// A policy is used when a pool (or the host in no pool) is judged by
	// it or by a descendant.
	used := make([]bool, len(s.policies))
	mark := func(k int32) {
		for ; k >= 0 && !used[k]; k = c.parentC[k] {
			used[k] = true
		}
	}
	for _, pi := range s.poolInfo {
		mark(pi.policy)
	}
	mark(s.root)
	c.refuseEmpty(used)
	for ci, p := range s.policies {
		if !used[ci] {
			c.warnf(c.src.policies[c.srcOf[ci]].idOff, "policy %d is used by no pool (and is not policy 0)", p.id)
		}
	}
	st := &s.stats
	st.File, st.Format = s.file, s.format
	st.Pools, st.Policies, st.Rules, st.Hostnames, st.Shapers = len(s.poolInfo), len(s.policies), len(s.rules)-1-len(c.hostShared)+len(s.hostRules), s.hosts.Len(), len(s.shapers)
	st.GeoIP = "none"
	if s.geo != nil {
		st.GeoIP = s.geo.Describe()
	}
	if s.catalog != nil {
		st.CustomProtocols = s.catalog.CustomProtocols()
	}
}
