package dpi

import "strings"

// hostTable maps hostnames to catalog entries. Four kinds of rule, all
// label-aligned so that "notyoutube.com" never matches "youtube.com":
//
//	example.com        suffix: the name and every name below it
//	=example.com       exact: the name only
//	example.*          brand: the labels, then one or more labels (nDPI's
//	                   "example." host rule: google.com, google.co.uk, …)
//	*-buy.example.com  partial first label: p53-buy.example.com
//
// A rule either names an application (with an optional category) or only
// a category; category-only rules add their category to the application
// the other rules find. Lookup walks the name from the left, one label at
// a time, so the rule covering most of the name wins; at one position an
// exact rule beats a suffix rule, which beats a brand rule, which beats a
// partial-label rule. Lookups allocate nothing.
type hostTable struct {
	// names holds exact and suffix rules: one map lookup per label.
	names map[string]*hostRules
	// brand is keyed by the labels before the wildcard ("mail.google");
	// brandFirst holds their first labels with the longest key length.
	brand      map[string]*hostRules
	brandFirst map[string]int
	// dash is keyed by the domain after the partial label
	// ("itunes.apple.com" for "*-buy.itunes.apple.com").
	dash map[string][]dashRule
	n    int
}

// hostRules are the rules for one key.
type hostRules struct {
	exact, suffix hostRule
}

// hostRule is one rule: an application entry and/or a category-only one.
type hostRule struct {
	app    CatalogEntry
	hasApp bool
	cat    CategoryID // from a category-only rule
}

type dashRule struct {
	label string // "-buy"
	rule  hostRule
}

func newHostTable() *hostTable {
	return &hostTable{
		names:      map[string]*hostRules{},
		brand:      map[string]*hostRules{},
		brandFirst: map[string]int{},
		dash:       map[string][]dashRule{},
	}
}

func (t *hostTable) len() int { return t.n }

// set records e in r: an application rule, or a category-only one when e
// names no application. A later rule replaces an earlier one of its sort.
func (r *hostRule) set(e CatalogEntry) bool {
	added := !r.hasApp && r.cat == 0
	if e.App == 0 {
		r.cat = e.Category
	} else {
		r.app, r.hasApp = e, true
	}
	return added
}

// add stores a rule whose pattern is already normalised (see hostPattern).
func (t *hostTable) add(kind hostKind, key string, e CatalogEntry) {
	var added bool
	switch kind {
	case hostExact, hostSuffix:
		rs := t.names[key]
		if rs == nil {
			rs = &hostRules{}
			t.names[key] = rs
		}
		if kind == hostExact {
			added = rs.exact.set(e)
		} else {
			added = rs.suffix.set(e)
		}
	case hostBrand:
		rs := t.brand[key]
		if rs == nil {
			rs = &hostRules{}
			t.brand[key] = rs
		}
		added = rs.suffix.set(e)
		first, _, _ := strings.Cut(key, ".")
		if len(key) > t.brandFirst[first] {
			t.brandFirst[first] = len(key)
		}
	case hostDash:
		label, parent, _ := strings.Cut(key, ".")
		rs := t.dash[parent]
		i := 0
		for i < len(rs) && rs[i].label != label {
			i++
		}
		if i == len(rs) {
			rs = append(rs, dashRule{label: label})
		}
		added = rs[i].rule.set(e)
		t.dash[parent] = rs
	}
	if added {
		t.n++
	}
}

// lookup finds the application of the most specific application rule for
// a lower-case name, and the category of the most specific category-only
// rule at least as specific. ok reports whether either was found.
func (t *hostTable) lookup(h string) (e CatalogEntry, ok bool) {
	h = trimHost(h)
	if h == "" {
		return e, false
	}
	var cat CategoryID
	// take applies a rule found at the current position; it reports
	// whether the search is over.
	take := func(r *hostRule) bool {
		if cat == 0 {
			cat = r.cat
		}
		if r.hasApp {
			e, ok = r.app, true
			return true
		}
		return false
	}
	first := true
	for s := h; ; first = false {
		dot := strings.IndexByte(s, '.')
		if rs := t.names[s]; rs != nil {
			if first && take(&rs.exact) || take(&rs.suffix) {
				break
			}
		}
		if dot < 0 {
			break
		}
		if n, found := t.brandFirst[s[:dot]]; found {
			if r := t.lookupBrand(s, n); r != nil && take(r) {
				break
			}
		}
		if len(t.dash) > 0 && dot > 1 && strings.IndexByte(s[1:dot], '-') >= 0 {
			if r := t.lookupDash(s[:dot], s[dot+1:]); r != nil && take(r) {
				break
			}
		}
		s = s[dot+1:]
	}
	if cat != 0 {
		e.Category, ok = cat, true
	}
	return e, ok
}

// lookupBrand tries the brand rules that start at the first label of s and
// are at most max long, longest first; at least one label must follow.
func (t *hostTable) lookupBrand(s string, max int) *hostRule {
	// Candidate keys end just before a dot: s[:j] with s[j] == '.'.
	for j := strings.LastIndexByte(s, '.'); j > 0; j = strings.LastIndexByte(s[:j], '.') {
		if j > max || j+1 == len(s) {
			continue
		}
		if rs := t.brand[s[:j]]; rs != nil {
			return &rs.suffix
		}
	}
	return nil
}

// lookupDash tries the partial-label rules under parent for label.
func (t *hostTable) lookupDash(label, parent string) *hostRule {
	rs := t.dash[parent]
	for i := range rs {
		if l := rs[i].label; len(label) > len(l) && label[len(label)-len(l):] == l {
			return &rs[i].rule
		}
	}
	return nil
}

// trimHost drops a port (an HTTP Host header may carry one), a trailing
// root dot and a leading "*." (certificate names are often wildcards).
func trimHost(h string) string {
	if i := strings.IndexByte(h, ':'); i >= 0 && strings.IndexByte(h[i+1:], ':') < 0 {
		h = h[:i]
	}
	if n := len(h); n > 0 && h[n-1] == '.' {
		h = h[:n-1]
	}
	for len(h) > 1 && h[0] == '*' && h[1] == '.' {
		h = h[2:]
	}
	return h
}

type hostKind uint8

const (
	hostSuffix hostKind = iota
	hostExact
	hostBrand
	hostDash
)

// hostPattern normalises a host rule and tells its kind: lower case,
// without surrounding blanks, a leading "*." or ".", or a trailing dot.
// It rejects characters that cannot appear in a DNS name.
func hostPattern(s string) (hostKind, string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	kind := hostSuffix
	switch {
	case strings.HasPrefix(s, "="):
		kind, s = hostExact, s[1:]
	case strings.HasPrefix(s, "*-"):
		kind, s = hostDash, s[1:]
	case strings.HasSuffix(s, ".*"):
		kind, s = hostBrand, s[:len(s)-2]
	}
	if kind != hostDash {
		s = strings.TrimPrefix(s, "*.")
		s = strings.TrimPrefix(s, ".")
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 || strings.Contains(s, "..") || s[0] == '.' {
		return kind, s, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return kind, s, false
		}
	}
	if kind == hostDash {
		// "-label.parent": a non-empty label part and a parent domain.
		label, parent, ok := strings.Cut(s, ".")
		if !ok || len(label) < 2 || parent == "" {
			return kind, s, false
		}
	}
	return kind, s, true
}
