package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"

	"ips/pools"
	"ips/verdict"
)

// Convert validates a policy and writes it in the native format, with
// every name in its canonical spelling: protocols, categories, risks
// and continents by their nDPI/GeoIP names, numeric protocol keys by the
// name of the protocol they denote ("53" becomes "CPHA", which makes the
// port mistake visible), nProbe's "root" as an explicit "parent", flow
// risk bitmaps and lists as a "risks" table, prefixes with their host
// bits cleared, and file paths made absolute. The result loads to the
// same decisions as the input.
func Convert(name string, data []byte, opt LoadOptions) ([]byte, *Report, error) {
	set, rep, c, err := parseAll(name, data, opt)
	if err != nil {
		return nil, rep, err
	}
	src := c.src
	doc := obj{{"version", 1}}
	desc := src.description
	if desc == "" {
		desc = fmt.Sprintf("converted from %s (%s format)", filepath.Base(name), src.format)
	}
	doc = append(doc, kv{"description", desc})
	geo := obj{}
	loc, asn := opt.GeoIP, opt.GeoIPASN
	if loc == "" && src.geoLoc.s != "" {
		loc = c.path(src.geoLoc.s)
	}
	if asn == "" && src.geoASN.s != "" {
		asn = c.path(src.geoASN.s)
	}
	if loc != "" {
		geo = append(geo, kv{"city", abs(loc)})
	}
	if asn != "" {
		geo = append(geo, kv{"asn", abs(asn)})
	}
	if len(geo) > 0 {
		doc = append(doc, kv{"geoip", geo})
	}
	if len(src.protoFiles) > 0 {
		var files []string
		for _, f := range src.protoFiles {
			files = append(files, abs(c.path(f.s)))
		}
		doc = append(doc, kv{"custom_protocols", files})
	}
	if len(src.catFiles) > 0 {
		var files []any
		for _, f := range src.catFiles {
			o := obj{{"file", abs(c.path(f.file.s))}}
			if f.category.off >= 0 {
				o = append(o, kv{"category", f.category.s})
			}
			files = append(files, o)
		}
		doc = append(doc, kv{"category_files", files})
	}
	if len(set.shapers) > 0 {
		var shs []any
		for _, sh := range set.shapers {
			o := obj{{"name", sh.Name}, {"class", sh.Class}, {"rate", strconv.FormatUint(sh.Rate, 10) + "bit"}}
			if sh.Ceil != sh.Rate {
				o = append(o, kv{"ceil", strconv.FormatUint(sh.Ceil, 10) + "bit"})
			}
			if sh.Per != verdict.PerPool {
				o = append(o, kv{"per", sh.Per.String()})
			}
			if sh.Description != "" {
				o = append(o, kv{"description", sh.Description})
			}
			shs = append(shs, o)
		}
		doc = append(doc, kv{"shapers", shs})
	}
	var ps []any
	for _, p := range src.pools {
		name := p.name.s
		if name == "" {
			name = "pool-" + strconv.FormatInt(p.id, 10)
		}
		o := obj{}
		if p.hasID {
			o = append(o, kv{"id", p.id})
		}
		o = append(o, kv{"name", name})
		if p.description != "" {
			o = append(o, kv{"description", p.description})
		}
		ips, macs := []string{}, []string{}
		for _, ip := range p.ips {
			if pfx, err := pools.ParseMember(ip.s); err == nil {
				ips = append(ips, pfx.String())
			}
		}
		for _, m := range p.macs {
			if mac, err := pools.ParseMAC(m.s); err == nil {
				macs = append(macs, mac.String())
			}
		}
		if len(ips) > 0 {
			o = append(o, kv{"ip", ips})
		}
		if len(macs) > 0 {
			o = append(o, kv{"mac", macs})
		}
		o = append(o, kv{"policy", p.policy})
		ps = append(ps, o)
	}
	doc = append(doc, kv{"pools", orEmpty(ps)})
	var pols []any
	for ci, i := range c.srcOf {
		p := &src.policies[i]
		o := obj{{"id", p.id}}
		if p.name != "" {
			o = append(o, kv{"name", p.name})
		}
		if p.description != "" {
			o = append(o, kv{"description", p.description})
		}
		if pc := c.parentC[ci]; pc >= 0 {
			o = append(o, kv{"parent", set.policies[pc].id})
		}
		if p.def != nil {
			o = append(o, kv{"default_marker", p.defOut})
		}
		markers := obj{}
		for t := table(0); t < numTables; t++ {
			m := obj{}
			seen := map[string]int{}
			for _, e := range p.tables[t] {
				if e.canon == "" {
					continue
				}
				if j, dup := seen[e.canon]; dup { // nProbe: the later one wins
					m[j].v = e.out
					continue
				}
				seen[e.canon] = len(m)
				m = append(m, kv{e.canon, e.out})
			}
			if t == tHostnames {
				c.eachHost(p, func(canon string, mk mval) {
					if j, dup := seen[canon]; dup {
						m[j].v = mk.out()
						return
					}
					seen[canon] = len(m)
					m = append(m, kv{canon, mk.out()})
				})
			}
			if len(m) > 0 {
				markers = append(markers, kv{tableKeys[t], m})
			}
		}
		if len(markers) > 0 {
			o = append(o, kv{"markers", markers})
		}
		if p.score != nil {
			o = append(o, kv{"flow_risk", obj{{"risk_score", p.score.min}, {"marker", p.score.out}}})
		}
		pols = append(pols, o)
	}
	doc = append(doc, kv{"policies", orEmpty(pols)})
	if len(set.excs) > 0 {
		var xs []any
		for i := range set.excs {
			hosts, risks := c.excCanon(i)
			xs = append(xs, obj{{"hosts", hosts}, {"risks", risks}})
		}
		doc = append(doc, kv{"risk_exceptions", xs})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, rep, err
	}
	return b.Bytes(), rep, nil
}

func orEmpty(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// obj is a JSON object that keeps its keys in order.
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		var vb bytes.Buffer
		enc := json.NewEncoder(&vb)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e.v); err != nil {
			return nil, err
		}
		b.Write(bytes.TrimRight(vb.Bytes(), "\n"))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// eachHost calls fn with each valid hostname entry of a policy, its
// pattern canonical, in file order.
func (c *compiler) eachHost(p *spolicy, fn func(canon string, m mval)) {
	for _, obj := range p.hosts {
		eachMember(c.src.f.src, obj, func(key []byte, _ int, v jscalar) {
			if v.kind != jString && v.kind != jNumber {
				return
			}
			name, kind, err := pools.AppendHostPattern(nil, key)
			if err != nil {
				return
			}
			if m, ok := c.marker(smarker{off: v.off, s: string(v.raw), num: v.kind == jNumber}); ok {
				fn(pools.FormatHost(string(name), kind), m)
			}
		})
	}
}
