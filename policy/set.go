// Package policy reads policies (nProbe's IPS format and ips's own),
// validates them with every problem reported at once as file:line:col,
// compiles them into an immutable Set, and judges flows: pool of the LAN
// host → policy chain → the first matching level of the precedence →
// a verdict.Decision with its explanation. Worker implements
// verdict.Decider on top of a DPI engine for the inline daemon.
package policy

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"ips/dpi"
	"ips/pools"
	"ips/verdict"
)

// Set is a compiled policy. It is immutable and safe for concurrent use;
// publish a new one through a Holder to change policy.
type Set struct {
	file   string
	format Format

	pools    *pools.Table
	poolInfo []poolInfo
	policies []cpolicy
	byID     map[int64]int32
	root     int32 // policy 0, -1 when the file has none
	rules    []rule

	// hosts maps each hostname pattern to the first of its hostRules;
	// hostText holds their explanations.
	hosts     *pools.Hosts[uint32]
	hostRules []hostRule
	hostText  [3]string // the pattern tables' texts, by pools.HostKind
	// hostInherited holds hostRules' explanations as descendant policies
	// inherit them, when there are at most eagerInherited rules; above,
	// hostInheritedLazy caches them (*hostRule → string) as first used:
	// one for every name of a big list would cost 26 bytes a name or more.
	hostInherited     []string
	hostInheritedLazy *sync.Map
	pairs             map[uint32][]owned
	asns              map[uint32][]owned

	geo     *pools.Geo
	geoKey  string
	needLoc bool // some rule uses countries or continents
	needASN bool // some rule uses AS numbers

	catHosts *pools.Hosts[dpi.CategoryID]
	catAddrs *pools.Prefixes[dpi.CategoryID]
	catalog  *dpi.Catalog

	// Risk exceptions (riskexc.go): masks, address and hostname entries,
	// the risks that hostname entries can remove, cached explanations.
	excs        []riskExc
	excAddrs    []excEntry
	excNames    []excEntry
	excNameMask dpi.RiskSet
	exc         *excState

	shapers []Shaper
	layout  verdict.MarkLayout
	stats   Report

	// dropUninspectable: "on_uninspectable": "drop". Flows the DPI
	// engine could not inspect as their receiver reads them are dropped;
	// by default they pass (with RiskObfuscatedTraffic, which markers may
	// match) and the policy decides as for any other flow.
	dropUninspectable bool
}

type poolInfo struct {
	id       int64
	label    string // name, or "#id"
	policy   int32  // index
	prefixes []netip.Prefix
}

// owned is one policy's entry for a key of a shared table (hostnames,
// AS numbers, master.app pairs).
type owned struct {
	policy int32
	rule   uint32
}

// cpolicy is a policy with its chain's tables merged: for each key the
// nearest policy of the chain that has an entry provides the rule.
type cpolicy struct {
	id        int64
	name      string
	chain     []int32 // itself, its parent, …, the top
	chainText string  // "policy 2 (⊂ 1 ⊂ 0)"
	proto     []uint32
	cat       []uint32
	country   []uint32
	continent [pools.NumContinents]uint32
	risk      [64]uint32
	ports     []portRange // sorted, disjoint: the chain's ports merged
	score     uint32
	scoreMin  int
	def       uint32
	hasRisks  bool
	hasHosts  bool
	hasPairs  bool
	hasASN    bool
	sum       [numSums]summary
}

// rule is one entry of one policy, resolved: the action and the
// explanation, written once when the policy is compiled.
type rule struct {
	act    verdict.Action
	class  uint16
	rank   uint8 // strictness, for several listed risks
	policy int32 // the policy that wrote it (index)
	// text explains the rule in its own policy; inherited in a descendant.
	text, inherited string
}

func (r *rule) key() uint32 { return uint32(r.act)<<16 | uint32(r.class) }

// Shaper is a named bandwidth class that "shape:NAME" markers (and
// nProbe integer markers equal to its class) send flows to.
type Shaper struct {
	Name  string
	Class uint16
	// Rate is the guaranteed rate and Ceil the most the class may borrow,
	// in bits per second (Ceil ≥ Rate; Ceil = Rate when not given).
	Rate, Ceil uint64
	// Per says how the rate is divided: per pool (the default), one
	// bucket for all, or per host inside each pool.
	Per         verdict.ShaperPer
	Description string
}

// LoadOptions tune Load.
type LoadOptions struct {
	// Format forces a format; FormatAuto detects it.
	Format Format
	// GeoIP and GeoIPASN name .mmdb files that replace the file's geoip
	// setting (a City or Country database, and an ASN database).
	GeoIP, GeoIPASN string
	// MarkMask is the mark layout's mask that markers must fit (0: the
	// default, verdict.DefaultMarkMask).
	MarkMask uint32
	// CatalogFiles are operator catalog files (nDPI protos.txt syntax)
	// read before the policy's custom_protocols.
	CatalogFiles []string
	// Previous is the Set being replaced: its GeoIP databases are reused
	// when the files have not changed, which makes reloads cheap.
	Previous *Set
}

// Report describes a loaded policy: its warnings, and what it holds.
type Report struct {
	File     string
	Format   Format
	Warnings []Diagnostic
	// Counts of what was compiled.
	Pools, PoolEntries, Policies, Rules, Hostnames, Shapers int
	// GeoIP describes the databases in use ("none" without).
	GeoIP string
	// CustomProtocols lists protocols defined by custom_protocols files.
	CustomProtocols []string
}

// Load reads, validates and compiles a policy file. The error, when not
// nil, is an ErrorList with every problem found; the Report carries the
// warnings either way.
func Load(path string, opt LoadOptions) (*Set, *Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		rep := &Report{File: path}
		return nil, rep, ErrorList{{File: path, Msg: fmt.Sprintf("cannot read the policy: %v", err)}}
	}
	return Parse(path, data, opt)
}

// Parse is Load on a file's contents. Files the policy refers to
// (databases, catalogs, category lists) are read relative to the
// directory of name.
func Parse(name string, data []byte, opt LoadOptions) (*Set, *Report, error) {
	set, rep, _, err := parseAll(name, data, opt)
	return set, rep, err
}

// parseAll is Parse that also returns the compiler, whose source model
// Convert writes out.
func parseAll(name string, data []byte, opt LoadOptions) (*Set, *Report, *compiler, error) {
	d := &diags{}
	f := newSrcFile(name, data)
	format := opt.Format
	if format == FormatAuto {
		format = detectFormat(data)
	}
	var src *source
	if format == FormatNative {
		src = readNative(f, d)
	} else {
		src = readNProbe(f, d)
	}
	c := &compiler{src: src, d: d, opt: opt, dir: filepath.Dir(name)}
	set := c.compile()
	errs, warns := d.sorted()
	rep := &Report{File: name, Format: format, Warnings: warns}
	if set != nil {
		set.stats.Warnings = warns
		*rep = set.stats
	}
	if len(errs) > 0 {
		return nil, rep, c, errs
	}
	return set, rep, c, nil
}

// detectFormat looks at the first key of the first object: nProbe line
// keys mean the nProbe format, anything else the native document.
func detectFormat(b []byte) Format {
	i := 0
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
			continue
		case '#':
			i = lineEnd(b, i)
			continue
		}
		break
	}
	if i >= len(b) || b[i] != '{' {
		return FormatNProbe
	}
	i++
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	if i >= len(b) || b[i] != '"' {
		return FormatNative // let the strict parser explain
	}
	j := i + 1
	for j < len(b) && b[j] != '"' && b[j] != '\n' {
		j++
	}
	switch string(b[i+1 : min(j, len(b))]) {
	case "pool", "policy", "geoip", "category_file", "custom_protocols":
		return FormatNProbe
	}
	return FormatNative
}

// File is the path the Set was loaded from.
func (s *Set) File() string { return s.file }

// OnUninspectable is the action for flows the DPI engine could not
// inspect (dpi.Result.Uninspectable): Drop when the document says
// "on_uninspectable": "drop", else None (the policy decides; the flow
// carries RiskObfuscatedTraffic).
func (s *Set) OnUninspectable() verdict.Action {
	if s.dropUninspectable {
		return verdict.Drop
	}
	return verdict.None
}

// Format is the format the Set was written in.
func (s *Set) Format() Format { return s.format }

// Catalog is the application catalog the Set was compiled with: the
// embedded one plus the operator's catalog files, custom_protocols and
// category files. Engines judged by this Set must use it, since the
// Set's protocol ids for custom protocols come from it.
func (s *Set) Catalog() *dpi.Catalog { return s.catalog }

// Geo is the GeoIP data in use (nil without databases).
func (s *Set) Geo() *pools.Geo { return s.geo }

// Shapers lists the shapers in class order.
func (s *Set) Shapers() []Shaper { return append([]Shaper(nil), s.shapers...) }

// MarkLayout is the layout the Set's markers were checked against.
func (s *Set) MarkLayout() verdict.MarkLayout { return s.layout }

// HasMACPools reports whether any pool lists MAC addresses, i.e. whether
// a host's pool can depend on its MAC.
func (s *Set) HasMACPools() bool { return s.pools.HasMACs() }

// Stats is the Report the Set was compiled with.
func (s *Set) Stats() Report { return s.stats }

// Holder publishes the current compiled policy; Store swaps atomically,
// so workers judging flows on other goroutines see either the old Set or
// the new one, never a mix.
type Holder struct {
	p atomic.Pointer[Set]
}

// Load returns the current Set (nil before the first Store).
func (h *Holder) Load() *Set { return h.p.Load() }

// Store publishes s.
func (h *Holder) Store(s *Set) { h.p.Store(s) }
