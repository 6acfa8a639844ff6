package policy

// The native format: one JSON document, strict (unknown keys, duplicate
// keys and wrong types are errors), with the vocabulary of the nProbe
// format. README.md, "Policy language", documents it.

var nativeKeys = []string{"version", "description", "geoip", "custom_protocols", "category_files", "shapers", "pools", "policies", "risk_exceptions", "on_uninspectable"}

func readNative(f *srcFile, d *diags) *source {
	src := &source{f: f, format: FormatNative, geoOff: -1}
	r := &reader{f: f, d: d, strict: true}
	root, end, err := parseJSONValue(f.src, 0)
	if err != nil {
		d.errorf(f, err.off, "%s", err.msg)
		return src
	}
	for end < len(f.src) && (f.src[end] == ' ' || f.src[end] == '\t' || f.src[end] == '\n' || f.src[end] == '\r') {
		end++
	}
	if end < len(f.src) {
		d.errorf(f, end, "unexpected %s after the end of the document", quoteWord(f.src[end:]))
	}
	mems, ok := r.members(root, "the policy document", true)
	if !ok {
		return src
	}
	version := false
	for _, m := range mems {
		switch m.key {
		case "version":
			v, ok := r.integer(m.val, "version")
			if ok && v != 1 {
				d.errorf(f, m.val.off, "version %d is not supported (this ips reads version 1)", v)
			}
			version = true
		case "description":
			if v, ok := r.str(m.val, "description"); ok {
				src.description = v.s
			}
		case "geoip":
			r.geoip(m.val, src)
		case "custom_protocols":
			src.protoFiles = append(src.protoFiles, r.strList(m.val, "custom_protocols")...)
		case "category_files":
			r.categoryFiles(m.val, src)
		case "shapers":
			r.list(m.val, "shapers", func(n *jnode) { r.nativeShaper(n, src) })
		case "pools":
			r.list(m.val, "pools", func(n *jnode) { r.nativePool(n, src) })
		case "policies":
			r.list(m.val, "policies", func(n *jnode) { r.nativePolicy(n, src) })
		case "risk_exceptions":
			r.riskExceptions(m.val, src)
		case "on_uninspectable":
			if v, ok := r.str(m.val, "on_uninspectable"); ok {
				if v.s != "pass" && v.s != "drop" {
					d.errorf(f, v.off, "on_uninspectable %q: want \"pass\" or \"drop\"", v.s)
				} else {
					src.onUninspectable = v
				}
			}
		default:
			r.unknown(m, "the policy document", nativeKeys)
		}
	}
	if !version {
		d.errorf(f, root.off, "the document has no \"version\": 1")
	}
	return src
}

func (r *reader) list(n *jnode, what string, fn func(*jnode)) {
	if n.kind != jArray {
		r.d.errorf(r.f, n.off, "%s: want an array, not %s", what, describe(n))
		return
	}
	for _, e := range n.elems {
		fn(e)
	}
}

func (r *reader) categoryFiles(n *jnode, src *source) {
	r.list(n, "category_files", func(e *jnode) {
		if e.kind == jString {
			src.catFiles = append(src.catFiles, scatfile{file: sval{s: e.str, off: e.off}, category: sval{off: -1}})
			return
		}
		mems, ok := r.members(e, "a category file", true)
		if !ok {
			return
		}
		cf := scatfile{category: sval{off: -1}}
		for _, m := range mems {
			switch m.key {
			case "file":
				if v, ok := r.str(m.val, "category file"); ok {
					cf.file = v
				}
			case "category":
				switch m.val.kind {
				case jNumber:
					cf.category = sval{s: m.val.str, off: m.val.off, num: true}
				default:
					if v, ok := r.str(m.val, "category"); ok {
						cf.category = v
					}
				}
			default:
				r.unknown(m, "a category file", []string{"file", "category"})
			}
		}
		if cf.file.s == "" {
			r.d.errorf(r.f, e.off, "category file has no \"file\"")
			return
		}
		src.catFiles = append(src.catFiles, cf)
	})
}

var nativeShaperKeys = []string{"name", "class", "rate", "ceil", "per", "description"}

func (r *reader) nativeShaper(n *jnode, src *source) {
	mems, ok := r.members(n, "shaper", true)
	if !ok {
		return
	}
	s := sshaper{off: n.off, rate: sval{off: -1}, ceil: sval{off: -1}}
	for _, m := range mems {
		switch m.key {
		case "name":
			if v, ok := r.str(m.val, "shaper name"); ok {
				s.name = v
			}
		case "class":
			s.class, s.hasClass = r.integer(m.val, "shaper class")
			s.classOff = m.val.off
		case "rate", "ceil":
			var v sval
			switch m.val.kind {
			case jNumber:
				v = sval{s: m.val.str, off: m.val.off, num: true}
			default:
				v, _ = r.str(m.val, "shaper "+m.key)
			}
			if m.key == "rate" {
				s.rate = v
			} else {
				s.ceil = v
			}
		case "per":
			if v, ok := r.str(m.val, "shaper per"); ok {
				s.per = v
			}
		case "description":
			if v, ok := r.str(m.val, "shaper description"); ok {
				s.description = v.s
			}
		default:
			r.unknown(m, "shaper", nativeShaperKeys)
		}
	}
	if s.name.s == "" {
		r.d.errorf(r.f, n.off, "shaper has no \"name\"")
		return
	}
	src.shapers = append(src.shapers, s)
}

var nativePoolKeys = []string{"id", "name", "description", "ip", "mac", "policy"}

func (r *reader) nativePool(n *jnode, src *source) {
	mems, ok := r.members(n, "pool", true)
	if !ok {
		return
	}
	p := spool{off: n.off}
	for _, m := range mems {
		if r.readPoolKey(m, &p) {
			continue
		}
		if m.key == "policy" {
			p.policy, p.hasPolicy = r.integer(m.val, "pool policy")
			p.policyOff = m.val.off
			continue
		}
		r.unknown(m, "pool", nativePoolKeys)
	}
	if p.name.s == "" {
		r.d.errorf(r.f, n.off, "pool has no \"name\"")
	}
	if !p.hasPolicy {
		r.d.errorf(r.f, n.off, "pool has no \"policy\"")
	}
	src.pools = append(src.pools, p)
}

var nativePolicyKeys = []string{"id", "name", "description", "parent", "default_marker", "markers", "flow_risk"}

func (r *reader) nativePolicy(n *jnode, src *source) {
	mems, ok := r.members(n, "policy", true)
	if !ok {
		return
	}
	p := spolicy{off: n.off, idOff: n.off}
	for _, m := range mems {
		if r.readPolicyKey(m, &p) {
			continue
		}
		if m.key == "parent" {
			p.parent, p.hasParent = r.integer(m.val, "policy parent")
			p.parentOff = m.val.off
			continue
		}
		if m.key == "root" || m.key == "hostnames" {
			r.d.errorf(r.f, m.off, "unknown key %q in policy (%s)", m.key, map[string]string{
				"root":      `the native format calls the parent "parent"`,
				"hostnames": `put "hostnames" inside "markers"`,
			}[m.key])
			continue
		}
		r.unknown(m, "policy", nativePolicyKeys)
	}
	if !p.hasID {
		r.d.errorf(r.f, n.off, "policy has no \"id\"")
		return
	}
	src.policies = append(src.policies, p)
}
