package policy

import (
	"fmt"
	"math/bits"
	"net/netip"

	"ips/dpi"
	"ips/pools"
	"ips/verdict"
)

// level is a step of the precedence within a policy, most specific first.
type level uint8

const (
	lvRisk      level = iota // listed flow risks, then the risk-score threshold
	lvHost                   // hostnames, most specific pattern first
	lvPair                   // "master.app" protocol keys
	lvApp                    // the application protocol
	lvMaster                 // the master protocol
	lvPorts                  // the L4 protocol and server port, by number
	lvCategory               // the flow's category
	lvASN                    // the remote host's AS number
	lvCountry                // the remote host's country
	lvContinent              // the remote host's continent
	lvDefault                // default_marker (pass when no policy in the chain has one)
	numLevels
)

// summary says which markers a table can produce for a policy: none, one
// (mk), or several. Finality checks compare it with the current marker.
type summary struct {
	n  uint8 // 0 none, 1 one, 2 several
	mk uint32
}

func (s *summary) add(mk uint32) {
	switch {
	case s.n == 0:
		s.n, s.mk = 1, mk
	case s.n == 1 && s.mk != mk:
		s.n = 2
	}
}

func (s *summary) merge(o summary) {
	if o.n == 2 {
		s.n = 2
	} else if o.n == 1 {
		s.add(o.mk)
	}
}

// differs reports whether the table could produce a marker other than mk.
func (s summary) differs(mk uint32) bool { return s.n == 2 || s.n == 1 && s.mk != mk }

const (
	sumRisk = iota
	sumHost
	sumProto
	sumCat
	numSums
)

// Host is what a flow's endpoints mean under a Set: the pool of the LAN
// host and what GeoIP says about the remote host. Resolve it once per
// flow (and again after the Set changes).
type Host struct {
	// Pool is the LAN host's pool (an index into the Set's pools), -1 for
	// none.
	Pool int32
	// Remote is the host on the far side of the gateway.
	Remote netip.Addr
	Geo    pools.GeoInfo
	// MACPending says the LAN host's pool may still change because its
	// MAC address is not known yet and some pool lists MACs. The caller
	// sets it; a decision is never final while it is set.
	MACPending bool
	// Proto is the flow's IP protocol number and Port its server
	// (responder) port, 0 for protocols without ports; the caller sets
	// them for "ports" rules.
	Proto uint8
	Port  uint16
	// Local is the LAN-side host; excAddr the risk exceptions its or
	// Remote's address is in.
	Local   netip.Addr
	excAddr uint64
}

// Resolve finds the pool of the LAN host (address local, MAC mac when
// hasMAC) and looks the remote address up in GeoIP when the policy uses
// it.
func (s *Set) Resolve(local netip.Addr, mac pools.MAC, hasMAC bool, remote netip.Addr) Host {
	h := Host{Pool: -1, Remote: remote, Local: local}
	if len(s.excAddrs) > 0 {
		h.excAddr = s.excAddrMask(local, remote)
	}
	if p, ok := s.pools.Lookup(local, mac, hasMAC); ok {
		h.Pool = p
	}
	if s.needLoc || s.needASN {
		h.Geo = s.geo.LookupParts(remote, s.needLoc, s.needASN)
	}
	return h
}

// PoolName names pool index i ("" for -1).
func (s *Set) PoolName(i int32) string {
	if i < 0 || int(i) >= len(s.poolInfo) {
		return ""
	}
	return s.poolInfo[i].label
}

// Input is a flow as Evaluate takes it.
type Input struct {
	Result *dpi.Result
	// Local is the LAN-side host, Remote the other end.
	Local, Remote netip.Addr
	LocalMAC      pools.MAC
	HasMAC        bool
	// Proto is the IP protocol number, Port the server (responder) port.
	Proto uint8
	Port  uint16
}

// Evaluate resolves the flow's hosts and judges it: Resolve then Judge.
func (s *Set) Evaluate(in *Input) verdict.Decision {
	h := s.Resolve(in.Local, in.LocalMAC, in.HasMAC, in.Remote)
	h.Proto, h.Port = in.Proto, in.Port
	return s.Judge(&h, in.Result)
}

// Judge decides a flow: the policy of the host's pool (policy 0 for a
// host in no pool), then the first level of the precedence with a
// matching entry in the policy's chain. Final is set when no later DPI
// result can change the action (see settled). Judge allocates nothing;
// the Decision's strings belong to the Set.
func (s *Set) Judge(h *Host, r *dpi.Result) verdict.Decision {
	pi := s.root
	var poolLabel string
	if h.Pool >= 0 && int(h.Pool) < len(s.poolInfo) {
		pi = s.poolInfo[h.Pool].policy
		poolLabel = s.poolInfo[h.Pool].label
	}
	if r.Uninspectable && s.dropUninspectable {
		// Before any rule: what the engine saw may not be what the
		// receiver reads, so no marker can be trusted to match.
		id := int32(-1)
		if pi >= 0 {
			id = int32(s.policies[pi].id)
		}
		return verdict.Decision{Action: verdict.Drop, Final: true, PolicyID: id, Pool: poolLabel, Rule: uninspectableRule}
	}
	if pi < 0 {
		return verdict.Decision{Action: verdict.Pass, Final: !h.MACPending, PolicyID: -1,
			Pool: poolLabel, Rule: noPolicyRule}
	}
	p := &s.policies[pi]
	ms := matches{risks: r.Risks}
	var exc uint64
	var removed dpi.RiskSet
	if s.excs != nil && r.Risks&^1 != 0 {
		exc, removed = s.excepted(h, r)
		ms.risks &^= removed
	}
	ri := s.first(p, h, r, &ms)
	ru := s.rule(ri)
	d := verdict.Decision{Action: ru.act, Class: ru.class, PolicyID: int32(p.id),
		Pool: poolLabel, Chain: p.chainText, Rule: ru.text}
	if ru.policy != pi {
		d.Rule = s.inheritedText(ri, &ru)
	}
	if removed != 0 {
		d.Rule = s.exceptText(d.Rule, h, r, exc, removed)
	}
	if h.MACPending {
		return d
	}
	// With on_uninspectable "drop", a flow still being inspected may yet
	// turn out uninspectable: no rule settles it early.
	d.Final = r.State.Final() || !(s.dropUninspectable && r.State == dpi.Inspecting) && s.settled(p, h, r, &ms, ru.key())
	return d
}

const noPolicyRule = "no pool and no policy 0 → pass"

const uninspectableRule = "stream could not be inspected (on_uninspectable) → drop"

// matches caches the rule each level matched (0: none), computed lazily.
type matches struct {
	rule [numLevels]uint32
	done [numLevels]bool
	// risks are the flow's risks less those risk exceptions remove.
	risks dpi.RiskSet
}

func (s *Set) first(p *cpolicy, h *Host, r *dpi.Result, ms *matches) uint32 {
	for lv := level(0); lv < numLevels; lv++ {
		if ri := s.match(p, h, r, lv, ms); ri != 0 {
			return ri
		}
	}
	return p.def // unreachable: p.def is never 0
}

// match returns the rule the policy's chain has for the flow at one level.
func (s *Set) match(p *cpolicy, h *Host, r *dpi.Result, lv level, ms *matches) uint32 {
	if ms.done[lv] {
		return ms.rule[lv]
	}
	var ri uint32
	switch lv {
	case lvRisk:
		ri = s.matchRisk(p, ms.risks)
	case lvHost:
		if p.hasHosts && r.Hostname != "" {
			ri = s.chainLookupHost(p, r.Hostname)
		}
	case lvPair:
		if p.hasPairs && r.Master != 0 && r.App != 0 && r.Master != r.App {
			ri = chainLookup(p, s.pairs[uint32(r.Master)<<16|uint32(r.App)])
		}
	case lvApp:
		if r.App != 0 && r.App != r.Master && int(r.App) < len(p.proto) {
			ri = p.proto[r.App]
		}
	case lvMaster:
		if int(r.Master) < len(p.proto) && r.Master != 0 {
			ri = p.proto[r.Master]
		}
	case lvPorts:
		if p.ports != nil {
			ri = lookupPorts(p.ports, uint32(h.Proto)<<16|uint32(h.Port))
		}
	case lvCategory:
		if p.cat != nil {
			if c := s.category(r, h); int(c) < len(p.cat) {
				ri = p.cat[c]
			}
		}
	case lvASN:
		if p.hasASN && h.Geo.ASN != 0 {
			ri = chainLookup(p, s.asns[h.Geo.ASN])
		}
	case lvCountry:
		if p.country != nil && h.Geo.Country != 0 && int(h.Geo.Country) < len(p.country) {
			ri = p.country[h.Geo.Country]
		}
	case lvContinent:
		if c := h.Geo.Continent; c != 0 && int(c) < len(p.continent) {
			ri = p.continent[c]
		}
	case lvDefault:
		ri = p.def
	}
	ms.rule[lv], ms.done[lv] = ri, true
	return ri
}

// matchRisk: of the flow's risks that the chain lists, the strictest
// marker wins (lowest risk id among equals); failing that, the score
// threshold.
func (s *Set) matchRisk(p *cpolicy, rs dpi.RiskSet) uint32 {
	if !p.hasRisks || rs == 0 {
		return 0
	}
	var best uint32
	for v := uint64(rs) &^ 1; v != 0; v &= v - 1 {
		id := bits.TrailingZeros64(v)
		if ri := p.risk[id]; ri != 0 && (best == 0 || s.rules[ri].rank > s.rules[best].rank) {
			best = ri
		}
	}
	if best == 0 && p.score != 0 && rs.Score() >= p.scoreMin {
		best = p.score
	}
	return best
}

// category is the flow's category for the policy: a category file's
// entry for the hostname, else for the remote address, else the DPI's.
func (s *Set) category(r *dpi.Result, h *Host) dpi.CategoryID {
	if s.catHosts != nil && r.Hostname != "" {
		if c, ok := s.catHosts.Lookup(r.Hostname); ok {
			return c
		}
	}
	if s.catAddrs != nil {
		if c, ok := s.catAddrs.Lookup(h.Remote); ok {
			return c
		}
	}
	return r.Category
}

// chainLookup finds, among the entries that policies define for one key,
// the one of the nearest policy in p's chain.
func chainLookup(p *cpolicy, es []owned) uint32 {
	if len(es) == 0 {
		return 0
	}
	for _, c := range p.chain {
		for _, e := range es {
			if e.policy == c {
				return e.rule
			}
		}
	}
	return 0
}

// chainLookupHost walks the hostname patterns matching host from the
// most specific; the first one that p's chain defines decides. It
// returns a hostRule's number with hostBit set.
func (s *Set) chainLookupHost(p *cpolicy, host string) uint32 {
	var ri uint32
	s.hosts.Match(host, func(head uint32) bool {
		for _, c := range p.chain {
			for e := head; e != noHost; e = s.hostRules[e].next {
				if s.hostRules[e].policy == c {
					ri = hostBit | e
					return true
				}
			}
		}
		return false
	})
	return ri
}

// rule returns rule ri, or for a hostRule number the rule it shares with
// its explanation; the strings are slices of the Set's text.
func (s *Set) rule(ri uint32) rule {
	if ri&hostBit == 0 {
		return s.rules[ri]
	}
	h := &s.hostRules[ri&^hostBit]
	r := s.rules[h.rule]
	r.text = s.hostText[h.kind][h.off : h.off+uint32(h.tlen)]
	r.inherited = ""
	return r
}

// inheritedText is the explanation of rule ri (r = s.rule(ri)) when a
// descendant of its policy uses it. A hostname rule's is built once, on
// first use, and kept.
func (s *Set) inheritedText(ri uint32, r *rule) string {
	if ri&hostBit == 0 {
		return r.inherited
	}
	i := ri &^ hostBit
	if s.hostInherited != nil {
		return s.hostInherited[i]
	}
	// Keyed by pointer, which an interface holds without allocating.
	h := &s.hostRules[i]
	if t, ok := s.hostInheritedLazy.Load(h); ok {
		return t.(string)
	}
	t, _ := s.hostInheritedLazy.LoadOrStore(h, s.inheritedHostText(h))
	return t.(string)
}

func (s *Set) inheritedHostText(h *hostRule) string {
	return fmt.Sprintf("%s (inherited from policy %d)", s.hostText[h.kind][h.off:h.off+uint32(h.tlen)], s.policies[h.policy].id)
}

// ruleKey is rule(ri).key() without building the explanation.
func (s *Set) ruleKey(ri uint32) uint32 {
	if ri&hostBit != 0 {
		ri = s.hostRules[ri&^hostBit].rule
	}
	return s.rules[ri].key()
}

// settled reports whether the decision (rule marker cur) holds whatever the DPI engine still finds, given what the Result
// says may change (State and Pending):
//
//   - while Inspecting, or Partial without a Pending declaration,
//     anything may change;
//   - risks only grow (FieldRisks), so a risk match stays a match;
//   - the hostname may change (FieldHostname), and while it is empty the
//     engine may still fill it from its DNS cache when the flow ends;
//   - the application (FieldApp, or FieldHostname through the catalog) and
//     with it the category may change;
//   - the pool, the remote address and its GeoIP data never change.
//
// Walking the precedence, a level that may change must not be able to
// produce another marker (its summary over the chain says which markers
// it can produce); the first level that cannot change and matches ends
// the walk, and its marker must be the current one.
func (s *Set) settled(p *cpolicy, h *Host, r *dpi.Result, ms *matches, cur uint32) bool {
	pend := r.Pending
	if r.State == dpi.Inspecting || pend == 0 {
		pend = dpi.FieldApp | dpi.FieldHostname | dpi.FieldRisks | dpi.FieldMeta
	}
	riskMay := pend&dpi.FieldRisks != 0
	hostMay := pend&dpi.FieldHostname != 0 || r.Hostname == ""
	appMay := pend&(dpi.FieldApp|dpi.FieldHostname) != 0
	catMay := appMay || hostMay && s.catHosts != nil
	// A hostname risk exception may still remove risks the flow has.
	excMay := hostMay && s.excNameMask != 0
	for l := level(0); l < numLevels; l++ {
		var variable bool
		var sum summary
		switch l {
		case lvRisk:
			// Exceptions only remove risks: one that may still apply
			// matters only to a risk match.
			variable, sum = riskMay || excMay && s.match(p, h, r, l, ms) != 0, p.sum[sumRisk]
		case lvHost:
			variable, sum = hostMay, p.sum[sumHost]
		case lvPair, lvApp, lvMaster:
			variable, sum = appMay, p.sum[sumProto]
		case lvCategory:
			variable, sum = catMay, p.sum[sumCat]
		}
		m := s.match(p, h, r, l, ms)
		if variable {
			if sum.differs(cur) {
				return false
			}
			if l == lvRisk && m != 0 && !excMay {
				return true // it keeps matching, with the same marker
			}
			continue
		}
		if m != 0 {
			return s.ruleKey(m) == cur
		}
	}
	return true
}
