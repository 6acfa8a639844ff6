package policy

import (
	"strconv"
	"strings"
)

// Format names a policy file format.
type Format uint8

const (
	// FormatAuto detects the format from the file's first object.
	FormatAuto Format = iota
	// FormatNProbe is nProbe's IPS mode (and ntop nFW) format: one JSON
	// object per line, '#' comments.
	FormatNProbe
	// FormatNative is ips's own single JSON document.
	FormatNative
)

func (f Format) String() string {
	switch f {
	case FormatNProbe:
		return "nprobe"
	case FormatNative:
		return "native"
	}
	return "auto"
}

// ParseFormat reads "auto", "nprobe" or "native" ("json" is native).
func ParseFormat(s string) (Format, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return FormatAuto, true
	case "nprobe", "nfw", "ndjson":
		return FormatNProbe, true
	case "native", "json", "ips":
		return FormatNative, true
	}
	return FormatAuto, false
}

// The marker tables of a policy.
type table uint8

const (
	tProtocols table = iota
	tCategories
	tCountries
	tContinents
	tASN
	tHostnames
	tRisks
	tPorts
	numTables
)

var tableKeys = [numTables]string{"protocols", "categories", "countries", "continents", "asn", "hostnames", "risks", "ports"}

// tableNoun names one key of a table in messages and explanations.
var tableNoun = [numTables]string{"protocol", "category", "country", "continent", "ASN", "hostname", "flow risk", "ports"}

// The source model: what the files say, with the offset of everything
// so that compilation can point at it.

type sval struct {
	s   string
	off int
	num bool // written as a JSON number
}

type smarker struct {
	off int
	s   string // the string, or the number's literal
	num bool
}

type sentry struct {
	key sval
	m   smarker
	// canon is the key's canonical spelling and out the marker as the
	// native format writes it, both set during compilation.
	canon string
	out   any
}

type sscore struct {
	off int
	min int64
	m   smarker
	out any
}

type spolicy struct {
	off         int
	id          int64
	idOff       int
	hasID       bool
	parent      int64
	parentOff   int
	hasParent   bool
	name        string
	description string
	def         *smarker
	defOut      any
	tables      [numTables][]sentry
	score       *sscore
	// hosts are the policy's hostnames tables, read entry by entry at
	// compilation (tables[tHostnames] stays empty): a blocklist of a
	// million names must not cost a source entry per name. hostCount is
	// their number of entries.
	hosts     []*jnode
	hostCount int
}

type spool struct {
	off         int
	id          int64
	idOff       int
	hasID       bool
	name        sval
	description string
	ips, macs   []sval
	policy      int64
	policyOff   int
	hasPolicy   bool
}

type sshaper struct {
	off         int
	name        sval
	class       int64
	classOff    int
	hasClass    bool
	rate, ceil  sval
	per         sval // "pool" (default), "all" or "host"
	description string
}

type scatfile struct {
	file, category sval
}

type source struct {
	f           *srcFile
	format      Format
	description string
	pools       []spool
	policies    []spolicy
	shapers     []sshaper
	geoLoc      sval
	geoASN      sval
	geoOff      int
	protoFiles  []sval
	catFiles    []scatfile
	// onUninspectable is the document's "on_uninspectable" (native
	// format only): "pass" or "drop"; empty when not given.
	onUninspectable sval
	riskExc         []sriskExc
}

// reader decodes JSON nodes into the source model. In strict mode (the
// native format) unknown keys and duplicate keys are errors; in the
// nProbe format they are warnings, because real files carry keys from
// other versions of ntop's tools.
type reader struct {
	f      *srcFile
	d      *diags
	strict bool
}

func (r *reader) problem(off int, format string, args ...any) {
	r.d.add(r.f, off, !r.strict, format, args...)
}

func describe(n *jnode) string {
	switch n.kind {
	case jObject:
		return "an object"
	case jArray:
		return "an array"
	case jString:
		return "a string"
	case jNumber:
		return "a number"
	case jBool:
		return "a boolean"
	}
	return "null"
}

// members returns an object's members. nProbe's writers (ntopng's Lua
// encoder) write an empty map as `[]`, so in that format an empty array
// is an empty object. With checkDup, a key given twice is reported.
func (r *reader) members(n *jnode, what string, checkDup bool) ([]jmember, bool) {
	switch {
	case n.kind == jObject:
		if checkDup && len(n.mems) > 1 {
			seen := make(map[string]bool, len(n.mems))
			for _, m := range n.mems {
				if seen[m.key] {
					if r.strict {
						r.d.errorf(r.f, m.off, "duplicate key %q in %s", m.key, what)
					} else {
						r.d.warnf(r.f, m.off, "duplicate key %q in %s; the later one is used", m.key, what)
					}
				}
				seen[m.key] = true
			}
		}
		return n.mems, true
	case n.kind == jArray && len(n.elems) == 0 && !r.strict:
		return nil, true
	}
	r.d.errorf(r.f, n.off, "%s: want an object, not %s", what, describe(n))
	return nil, false
}

func (r *reader) unknown(m jmember, where string, known []string) {
	if r.strict {
		r.d.errorf(r.f, m.off, "unknown key %q in %s%s", m.key, where, suggest(m.key, known))
	} else {
		r.d.warnf(r.f, m.off, "unknown key %q in %s is ignored%s", m.key, where, suggest(m.key, known))
	}
}

func (r *reader) str(n *jnode, what string) (sval, bool) {
	if n.kind != jString {
		r.d.errorf(r.f, n.off, "%s: want a string, not %s", what, describe(n))
		return sval{}, false
	}
	return sval{s: n.str, off: n.off}, true
}

// integer reads a whole number; the nProbe format also takes one written
// as a string ("id": "3").
func (r *reader) integer(n *jnode, what string) (int64, bool) {
	lit := n.str
	switch {
	case n.kind == jNumber:
	case n.kind == jString && !r.strict:
		lit = strings.TrimSpace(lit)
	default:
		r.d.errorf(r.f, n.off, "%s: want an integer, not %s", what, describe(n))
		return 0, false
	}
	v, err := strconv.ParseInt(lit, 10, 64)
	if err != nil {
		r.d.errorf(r.f, n.off, "%s: want an integer, not %s", what, strconv.Quote(n.str))
		return 0, false
	}
	return v, true
}

// strList reads an array of strings; the nProbe format also takes a
// single string.
func (r *reader) strList(n *jnode, what string) []sval {
	if n.kind == jString && !r.strict {
		return []sval{{s: n.str, off: n.off}}
	}
	if n.kind != jArray {
		r.d.errorf(r.f, n.off, "%s: want an array of strings, not %s", what, describe(n))
		return nil
	}
	out := make([]sval, 0, len(n.elems))
	for _, e := range n.elems {
		if e.kind != jString {
			r.d.errorf(r.f, e.off, "%s: want a string, not %s", what, describe(e))
			continue
		}
		out = append(out, sval{s: e.str, off: e.off})
	}
	return out
}

// keyList reads an array of strings or numbers (risk ids or names).
func (r *reader) keyList(n *jnode, what string) []sval {
	if n.kind != jArray {
		r.d.errorf(r.f, n.off, "%s: want an array, not %s", what, describe(n))
		return nil
	}
	out := make([]sval, 0, len(n.elems))
	for _, e := range n.elems {
		switch e.kind {
		case jString:
			out = append(out, sval{s: e.str, off: e.off})
		case jNumber:
			out = append(out, sval{s: e.str, off: e.off, num: true})
		default:
			r.d.errorf(r.f, e.off, "%s: want a name or a number, not %s", what, describe(e))
		}
	}
	return out
}

func (r *reader) marker(n *jnode, what string) (smarker, bool) {
	switch n.kind {
	case jString:
		return smarker{off: n.off, s: n.str}, true
	case jNumber:
		return smarker{off: n.off, s: n.str, num: true}, true
	}
	r.d.errorf(r.f, n.off, "%s: want a marker (\"pass\", \"drop\", \"reject\", \"shape:NAME\" or a number), not %s", what, describe(n))
	return smarker{}, false
}

var markersKeys = []string{"protocols", "categories", "countries", "continents", "asn", "hostnames", "risks", "ports"}

// readMarkers reads a "markers" object into the policy's tables.
func (r *reader) readMarkers(n *jnode, p *spolicy) {
	mems, ok := r.members(n, "markers", true)
	if !ok {
		return
	}
	for _, m := range mems {
		t := -1
		for i, k := range tableKeys {
			if m.key == k {
				t = i
			}
		}
		if t < 0 {
			if m.key == "ip" && !r.strict {
				r.d.warnf(r.f, m.off, "markers.ip (markers by address) is not documented by nProbe and not supported; ignored")
				continue
			}
			r.unknown(m, "markers", markersKeys)
			continue
		}
		r.readTable(m.val, table(t), p)
	}
}

func (r *reader) readTable(n *jnode, t table, p *spolicy) {
	if t == tHostnames {
		switch {
		case n.kind == jObject:
			p.hosts = append(p.hosts, n)
			p.hostCount += n.count + len(n.mems)
		case n.kind == jArray && len(n.elems) == 0 && !r.strict:
			// ntopng's empty map
		default:
			r.d.errorf(r.f, n.off, "%s: want an object, not %s", tableKeys[t], describe(n))
		}
		return
	}
	mems, ok := r.members(n, tableKeys[t], false)
	if !ok {
		return
	}
	for _, m := range mems {
		mk, ok := r.marker(m.val, tableNoun[t]+" "+strconv.Quote(m.key))
		if !ok {
			continue
		}
		p.tables[t] = append(p.tables[t], sentry{key: sval{s: m.key, off: m.off}, m: mk})
	}
}

var flowRiskKeys = []string{"risks", "bitmap", "risk_score", "marker"}

// readFlowRisk reads {"risks": [...] | "bitmap": N, "risk_score": N,
// "marker": M}: every listed risk gets the marker, as does a flow whose
// risk score reaches risk_score.
func (r *reader) readFlowRisk(n *jnode, p *spolicy) {
	mems, ok := r.members(n, "flow_risk", true)
	if !ok {
		return
	}
	var keys []sval
	var mk smarker
	hasMarker := false
	var score *sscore
	for _, m := range mems {
		switch m.key {
		case "risks":
			keys = append(keys, r.keyList(m.val, "flow_risk.risks")...)
		case "bitmap":
			keys = append(keys, r.bitmap(m.val)...)
		case "risk_score":
			v, ok := r.integer(m.val, "flow_risk.risk_score")
			if ok && v <= 0 {
				r.d.errorf(r.f, m.val.off, "flow_risk.risk_score must be positive, not %d", v)
				ok = false
			}
			if ok {
				score = &sscore{off: m.val.off, min: v}
			}
		case "marker":
			mk, hasMarker = r.marker(m.val, "flow_risk.marker")
		default:
			r.unknown(m, "flow_risk", flowRiskKeys)
		}
	}
	if !hasMarker {
		if len(keys) > 0 || score != nil {
			r.d.errorf(r.f, n.off, "flow_risk has risks but no \"marker\"")
		}
		return
	}
	for _, k := range keys {
		p.tables[tRisks] = append(p.tables[tRisks], sentry{key: k, m: mk})
	}
	if score != nil {
		score.m = mk
		p.score = score
	}
}

// bitmap reads nDPI's 64-bit risk bitmap (bit id = risk id), which needs
// exact integer parsing: float64 loses bits above 2^53.
func (r *reader) bitmap(n *jnode) []sval {
	lit := n.str
	if n.kind != jNumber && (n.kind != jString || r.strict) {
		r.d.errorf(r.f, n.off, "flow_risk.bitmap: want an unsigned 64-bit number, not %s", describe(n))
		return nil
	}
	v, err := strconv.ParseUint(strings.TrimSpace(lit), 10, 64)
	if err != nil {
		r.d.errorf(r.f, n.off, "flow_risk.bitmap: want an unsigned 64-bit number, not %s", strconv.Quote(lit))
		return nil
	}
	if v&1 != 0 {
		r.d.warnf(r.f, n.off, "flow_risk.bitmap: bit 0 is NDPI_NO_RISK and matches nothing")
	}
	var out []sval
	for b := 1; b < 64; b++ {
		if v&(1<<b) != 0 {
			out = append(out, sval{s: strconv.Itoa(b), off: n.off, num: true})
		}
	}
	return out
}

// readPolicyBody reads the keys both formats share; it returns false for
// keys it does not know so the caller can handle its own.
func (r *reader) readPolicyKey(m jmember, p *spolicy) bool {
	switch m.key {
	case "id":
		p.id, p.hasID = r.integer(m.val, "policy id")
		p.idOff = m.val.off
	case "name":
		if v, ok := r.str(m.val, "policy name"); ok {
			p.name = v.s
		}
	case "description":
		if v, ok := r.str(m.val, "policy description"); ok {
			p.description = v.s
		}
	case "default_marker":
		if mk, ok := r.marker(m.val, "default_marker"); ok {
			p.def = &mk
		}
	case "markers":
		r.readMarkers(m.val, p)
	case "flow_risk":
		r.readFlowRisk(m.val, p)
	default:
		return false
	}
	return true
}

func (r *reader) readPoolKey(m jmember, p *spool) bool {
	switch m.key {
	case "id":
		p.id, p.hasID = r.integer(m.val, "pool id")
		p.idOff = m.val.off
	case "name":
		if v, ok := r.str(m.val, "pool name"); ok {
			p.name = v
		}
	case "description":
		if v, ok := r.str(m.val, "pool description"); ok {
			p.description = v.s
		}
	case "ip":
		p.ips = append(p.ips, r.strList(m.val, "pool ip")...)
	case "mac":
		p.macs = append(p.macs, r.strList(m.val, "pool mac")...)
	default:
		return false
	}
	return true
}
