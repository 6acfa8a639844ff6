package policy

// The nProbe IPS / nFW policy format: one JSON object per line, told
// apart by their top-level key:
//
//	{"pool": {"id", "name", "ip": [...], "mac": [...]}, "policy": {"id": N}}
//	{"policy": {"id", "name", "root", "default_marker", "markers": {...},
//	            "hostnames": {...}, "flow_risk": {...}}}
//	{"geoip": {"asn": FILE, "city": FILE}}
//	{"category_file": FILE}
//	{"custom_protocols": FILE}
//
// Lines starting with '#' are comments and blank lines are skipped. An
// object may also span several lines, and a JSON array of such objects
// (as a message might carry them) is read element by element.

var nprobeLineKeys = []string{"pool", "policy", "geoip", "category_file", "custom_protocols"}

func readNProbe(f *srcFile, d *diags) *source {
	src := &source{f: f, format: FormatNProbe, geoOff: -1}
	r := &reader{f: f, d: d}
	b := f.src
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f':
			i++
			continue
		case c == '#':
			i = lineEnd(b, i)
			continue
		case c != '{' && c != '[':
			d.errorf(f, i, "unexpected %s: each line must be a JSON object or a '#' comment", quoteWord(b[i:]))
			i = lineEnd(b, i)
			continue
		}
		n, end, err := parseJSONValue(b, i)
		if err != nil {
			d.errorf(f, err.off, "%s", err.msg)
			// Resume on the line after the error.
			i = lineEnd(b, max(err.off, i))
			continue
		}
		j := end
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r') {
			j++
		}
		if j < len(b) && b[j] != '\n' && b[j] != '#' {
			d.errorf(f, j, "unexpected %s after the object: write one object per line", quoteWord(b[j:]))
			end = lineEnd(b, j)
		}
		i = end
		if n.kind == jArray {
			for _, e := range n.elems {
				r.line(e, src)
			}
			continue
		}
		r.line(n, src)
	}
	return src
}

func lineEnd(b []byte, i int) int {
	for i < len(b) && b[i] != '\n' {
		i++
	}
	return i
}

func (r *reader) line(n *jnode, src *source) {
	if n.kind != jObject {
		r.d.errorf(r.f, n.off, "want a JSON object, not %s", describe(n))
		return
	}
	mems, _ := r.members(n, "the line", true)
	switch {
	case n.member("pool") != nil:
		r.poolLine(n, src)
		for _, m := range mems {
			if m.key != "pool" && m.key != "policy" {
				r.unknown(m, "a pool line", []string{"pool", "policy"})
			}
		}
		return
	case n.member("policy") != nil:
		r.policyLine(n.member("policy"), src)
		for _, m := range mems {
			if m.key != "policy" {
				r.unknown(m, "a policy line", []string{"policy"})
			}
		}
		return
	}
	if len(mems) == 0 {
		r.d.warnf(r.f, n.off, "empty line object ignored")
	}
	for _, m := range mems {
		switch m.key {
		case "geoip":
			r.geoip(m.val, src)
		case "category_file":
			for _, v := range r.strList(m.val, "category_file") {
				src.catFiles = append(src.catFiles, scatfile{file: v, category: sval{off: -1}})
			}
		case "custom_protocols":
			src.protoFiles = append(src.protoFiles, r.strList(m.val, "custom_protocols")...)
		case "risk_exceptions":
			// ips's own line kind: nProbe has no risk exceptions.
			r.riskExceptions(m.val, src)
		default:
			r.unknown(m, "the line", nprobeLineKeys)
		}
	}
}

var geoipKeys = []string{"city", "country", "asn"}

func (r *reader) geoip(n *jnode, src *source) {
	mems, ok := r.members(n, "geoip", true)
	if !ok {
		return
	}
	src.geoOff = n.off
	for _, m := range mems {
		switch m.key {
		case "city", "country":
			if src.geoLoc.s != "" {
				r.problem(m.off, "geoip: the location database is given twice (city and country); the later one is used")
			}
			if v, ok := r.str(m.val, "geoip."+m.key); ok {
				src.geoLoc = v
			}
		case "asn":
			if v, ok := r.str(m.val, "geoip.asn"); ok {
				src.geoASN = v
			}
		default:
			r.unknown(m, "geoip", geoipKeys)
		}
	}
}

var nprobePoolKeys = []string{"id", "name", "ip", "mac"}

func (r *reader) poolLine(n *jnode, src *source) {
	var p spool
	pn := n.member("pool")
	p.off = pn.off
	mems, ok := r.members(pn, "pool", true)
	if !ok {
		return
	}
	for _, m := range mems {
		if !r.readPoolKey(m, &p) {
			r.unknown(m, "pool", nprobePoolKeys)
		}
	}
	if !p.hasID {
		r.d.errorf(r.f, pn.off, "pool has no \"id\"")
	}
	pol := n.member("policy")
	switch {
	case pol == nil:
		r.d.errorf(r.f, n.off, "pool line has no \"policy\": {\"id\": N}")
	case pol.kind == jNumber:
		p.policy, p.hasPolicy = r.integer(pol, "pool policy")
		p.policyOff = pol.off
	default:
		pm, ok := r.members(pol, "pool policy", true)
		if !ok {
			break
		}
		for _, m := range pm {
			if m.key == "id" {
				p.policy, p.hasPolicy = r.integer(m.val, "pool policy id")
				p.policyOff = m.val.off
				continue
			}
			r.unknown(m, "a pool line's policy", []string{"id"})
		}
		if !p.hasPolicy {
			r.d.errorf(r.f, pol.off, "pool line's policy has no \"id\"")
		}
	}
	src.pools = append(src.pools, p)
}

var nprobePolicyKeys = []string{"id", "name", "root", "default_marker", "markers", "hostnames", "flow_risk"}

func (r *reader) policyLine(n *jnode, src *source) {
	p := spolicy{off: n.off, idOff: n.off}
	mems, ok := r.members(n, "policy", true)
	if !ok {
		return
	}
	for _, m := range mems {
		if r.readPolicyKey(m, &p) {
			continue
		}
		switch m.key {
		case "root":
			p.parent, p.hasParent = r.integer(m.val, "policy root")
			p.parentOff = m.val.off
		case "hostnames":
			// The 2022 documentation and the webinar slides put the
			// hostnames table beside "markers"; later files put it inside.
			r.readTable(m.val, tHostnames, &p)
		default:
			r.unknown(m, "policy", nprobePolicyKeys)
		}
	}
	if !p.hasID {
		r.d.errorf(r.f, n.off, "policy has no \"id\"")
		return
	}
	src.policies = append(src.policies, p)
}
