package dpi

import (
	"bufio"
	"embed"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"ips/internal/netmatch"
)

// CatalogEntry is what the catalog knows about a host, address or port: an
// application and, optionally, a category that overrides the
// application's own.
type CatalogEntry struct {
	App      ProtoID
	Category CategoryID // 0: the application's default
}

// Catalog maps hostnames, address prefixes and ports to applications. It
// is data, not code: embedded defaults plus operator files in nDPI's
// protos.txt syntax. A Catalog is immutable and safe for concurrent use;
// swap in a new one to change it.
type Catalog struct {
	hosts *hostTable
	addrs *netmatch.PrefixTable[CatalogEntry]
	ports map[uint32]CatalogEntry // l4<<16 | port
	// custom protocols defined by operator files, ids from customBase up
	custom []customProto
}

type customProto struct {
	name     string
	category CategoryID
}

// customBase is the first id handed to operator-defined protocols, well
// above nDPI's own range.
const customBase ProtoID = 1000

// catalogFS holds the embedded catalog, one file per family of services,
// read in name order (a later rule for the same key wins).
//
//go:embed catalog/*.txt
var catalogFS embed.FS

// CatalogBuilder collects rules; Build makes the immutable Catalog.
type CatalogBuilder struct {
	hosts  *hostTable
	addrs  []netmatch.PrefixEntry[CatalogEntry]
	ports  map[uint32]CatalogEntry
	custom []customProto
}

// NewCatalogBuilder starts from the embedded defaults unless empty is set.
func NewCatalogBuilder(empty bool) *CatalogBuilder {
	b := &CatalogBuilder{hosts: newHostTable(), ports: map[uint32]CatalogEntry{}}
	if !empty {
		ents, _ := catalogFS.ReadDir("catalog")
		for _, ent := range ents {
			data, _ := catalogFS.ReadFile("catalog/" + ent.Name())
			if err := b.AddRules("dpi/catalog/"+ent.Name(), strings.NewReader(string(data))); err != nil {
				panic("embedded catalog: " + err.Error()) // a build defect, caught by tests
			}
		}
	}
	return b
}

// DefaultCatalog is the embedded catalog.
func DefaultCatalog() *Catalog { return NewCatalogBuilder(false).Build() }

// Build returns the catalog. The builder hands its tables over and must
// not be used afterwards.
func (b *CatalogBuilder) Build() *Catalog {
	c := &Catalog{
		hosts:  b.hosts,
		addrs:  netmatch.NewPrefixTable(b.addrs),
		ports:  make(map[uint32]CatalogEntry, len(b.ports)),
		custom: append([]customProto(nil), b.custom...),
	}
	for k, v := range b.ports {
		c.ports[k] = v
	}
	return c
}

// AddHost adds a hostname rule; exact limits it to the name itself. The
// name may use the rule forms of AddRules ("google.*", "*-buy.example.com").
// A rule without an application (category only) adds its category to the
// application other rules name. Invalid names are ignored; AddRules reports
// them.
func (b *CatalogBuilder) AddHost(name string, exact bool, e CatalogEntry) {
	kind, key, ok := hostPattern(name)
	if !ok {
		return
	}
	if exact {
		kind = hostExact
	}
	b.hosts.add(kind, key, e)
}

// AddFile reads an operator file of rules (see AddRules).
func (b *CatalogBuilder) AddFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer f.Close()
	return b.AddRules(path, f)
}

// AddPrefix adds an address rule.
func (b *CatalogBuilder) AddPrefix(p netip.Prefix, e CatalogEntry) {
	b.addrs = append(b.addrs, netmatch.PrefixEntry[CatalogEntry]{Prefix: p, Value: e})
}

// AddPort adds a port rule for TCP (6) or UDP (17).
func (b *CatalogBuilder) AddPort(l4 uint8, port uint16, e CatalogEntry) {
	b.ports[uint32(l4)<<16|uint32(port)] = e
}

// Proto resolves a protocol name, defining a custom protocol when the name
// is new (category applies to a new protocol only).
func (b *CatalogBuilder) Proto(name string, category CategoryID) ProtoID {
	if id, ok := ProtoByName(name); ok {
		return id
	}
	for i, c := range b.custom {
		if strings.EqualFold(c.name, name) {
			return customBase + ProtoID(i)
		}
	}
	b.custom = append(b.custom, customProto{name: name, category: category})
	return customBase + ProtoID(len(b.custom)-1)
}

// AddRules reads rules in nDPI's protos.txt syntax, one per line:
//
//	host:"youtube.com"@YouTube            suffix match (the name and below)
//	host:"=exact.example.com"@App         the name only
//	host:"google.*"@Google                the labels, then any labels
//	                                      (google.com, google.co.uk)
//	host:"*-buy.itunes.apple.com"@App     a first label ending "-buy"
//	ip:192.0.2.0/24@Tor                   address or prefix (ipv6: also)
//	tcp:8080,udp:5000-5010@App            ports and port ranges
//	host:"captive.apple.com"@Apple/ConnCheck   with a category override
//	host:"bad.example"@/Malware           a category only, kept on top of
//	                                      the application other rules name
//
// Matching is by whole labels: "notyoutube.com" is not "youtube.com". The
// rule covering most of a name wins; the later of two identical rules
// wins, so operator files read after the embedded ones override them. An
// application name nDPI does not know defines a custom protocol (ids from
// 1000). Several comma-separated rules may share one @App. Errors name the
// file and line.
func (b *CatalogBuilder) AddRules(file string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var errs []string
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		if err := b.addRule(s); err != nil {
			errs = append(errs, fmt.Sprintf("%s:%d: %v", file, line, err))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Sprintf("%s: %v", file, err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

func (b *CatalogBuilder) addRule(s string) error {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return fmt.Errorf("rule %q has no @Application", s)
	}
	rules, target := s[:at], strings.TrimSpace(s[at+1:])
	appName, catName, hasCat := strings.Cut(target, "/")
	var e CatalogEntry
	if hasCat {
		c, ok := CategoryByName(catName)
		if !ok {
			return fmt.Errorf("unknown category %q", catName)
		}
		e.Category = c
	}
	if appName != "" {
		if strings.ContainsAny(appName, " \t\"") {
			return fmt.Errorf("bad application name %q", appName)
		}
		e.App = b.Proto(appName, e.Category)
	} else if !hasCat {
		return fmt.Errorf("rule %q names neither application nor category", s)
	}
	for _, rule := range splitRules(rules) {
		kind, val, ok := strings.Cut(strings.TrimSpace(rule), ":")
		if !ok {
			return fmt.Errorf("rule %q: want kind:value", rule)
		}
		switch strings.ToLower(kind) {
		case "host":
			v := strings.Trim(strings.TrimSpace(val), `"`)
			if _, _, ok := hostPattern(v); !ok {
				return fmt.Errorf("bad host %q", val)
			}
			b.AddHost(v, false, e)
		case "ip", "ipv6":
			v, err := addrRuleValue(val)
			if err != nil {
				return err
			}
			p, err := parsePrefix(v)
			if err != nil {
				return err
			}
			b.AddPrefix(p, e)
		case "tcp", "udp":
			l4 := uint8(IPProtoTCP)
			if strings.ToLower(kind) == "udp" {
				l4 = IPProtoUDP
			}
			lo, hi, err := parsePortRange(val)
			if err != nil {
				return err
			}
			for p := lo; ; p++ {
				b.AddPort(l4, p, e)
				if p == hi {
					break
				}
			}
		default:
			return fmt.Errorf("unknown rule kind %q (want host, ip, ipv6, tcp or udp)", kind)
		}
	}
	return nil
}

// splitRules splits on commas outside quotes.
func splitRules(s string) []string {
	var out []string
	q := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			q = !q
		case ',':
			if !q {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// addrRuleValue takes the address or prefix out of an ip/ipv6 rule value:
// nDPI writes ADDR, ADDR/LEN, ADDR:PORT, and for IPv6 [ADDR], [ADDR]/LEN
// or [ADDR]:PORT. Ports are not matched and are dropped.
func addrRuleValue(val string) (string, error) {
	v := strings.Trim(strings.TrimSpace(val), `"`)
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return "", fmt.Errorf("bad address %q", val)
		}
		addr, rest := v[1:end], v[end+1:]
		if strings.HasPrefix(rest, "/") {
			bits, _, _ := strings.Cut(rest, ":")
			return addr + bits, nil
		}
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return "", fmt.Errorf("bad address %q", val)
		}
		return addr, nil
	}
	if strings.Count(v, ":") == 1 {
		v, _, _ = strings.Cut(v, ":")
	}
	return v, nil
}

func parsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return p, fmt.Errorf("bad prefix %q", v)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad address %q", v)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parsePortRange(v string) (uint16, uint16, error) {
	v = strings.TrimSpace(v)
	a, b, isRange := strings.Cut(v, "-")
	lo, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("bad port %q", v)
	}
	hi := lo
	if isRange {
		if hi, err = strconv.ParseUint(b, 10, 16); err != nil || hi < lo {
			return 0, 0, fmt.Errorf("bad port range %q", v)
		}
	}
	return uint16(lo), uint16(hi), nil
}

// Host finds the entry for a hostname: the application of the most
// specific host rule, with the category of a category-only rule that is at
// least as specific. A trailing dot and a leading "*." (certificate
// wildcards) are ignored. The engine passes lower-case names, which cost
// no allocation; other names are lowered first.
func (c *Catalog) Host(host string) (CatalogEntry, bool) {
	if c == nil || c.hosts == nil {
		return CatalogEntry{}, false
	}
	if hasUpper(host) {
		host = strings.ToLower(host)
	}
	return c.hosts.lookup(host)
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// Len is the number of host and address rules.
func (c *Catalog) Len() (hosts, prefixes int) {
	if c == nil || c.hosts == nil {
		return 0, 0
	}
	return c.hosts.len(), c.addrs.Len()
}

// Addr finds the entry for an address.
func (c *Catalog) Addr(a netip.Addr) (CatalogEntry, bool) {
	if c == nil {
		return CatalogEntry{}, false
	}
	return c.addrs.Lookup(a)
}

// Port finds an operator's port rule.
func (c *Catalog) Port(l4 uint8, port uint16) (CatalogEntry, bool) {
	if c == nil || len(c.ports) == 0 {
		return CatalogEntry{}, false
	}
	e, ok := c.ports[uint32(l4)<<16|uint32(port)]
	return e, ok
}

// ProtoName names a protocol, custom ones included.
func (c *Catalog) ProtoName(id ProtoID) string {
	if id >= customBase && c != nil && int(id-customBase) < len(c.custom) {
		return c.custom[id-customBase].name
	}
	return id.String()
}

// ProtoByName resolves a protocol name, custom ones included.
func (c *Catalog) ProtoByName(s string) (ProtoID, bool) {
	if id, ok := ProtoByName(s); ok {
		return id, true
	}
	if c != nil {
		for i, p := range c.custom {
			if strings.EqualFold(p.name, s) {
				return customBase + ProtoID(i), true
			}
		}
	}
	return 0, false
}

// ProtoCategory is the default category of a protocol, custom ones included.
func (c *Catalog) ProtoCategory(id ProtoID) CategoryID {
	if id >= customBase && c != nil && int(id-customBase) < len(c.custom) {
		return c.custom[id-customBase].category
	}
	return id.Category()
}

// AppName is Result.AppName with custom protocol names.
func (c *Catalog) AppName(r *Result) string {
	m, a := r.Master, r.App
	switch {
	case m != 0 && a != 0 && m != a:
		return c.ProtoName(m) + "." + c.ProtoName(a)
	case m != 0:
		return c.ProtoName(m)
	case a != 0:
		return c.ProtoName(a)
	}
	return "Unknown"
}

// CustomProtocols lists operator-defined protocol names in id order.
func (c *Catalog) CustomProtocols() []string {
	var out []string
	for _, p := range c.custom {
		out = append(out, p.name)
	}
	return out
}

// applyHostRule gives the flow the application the catalog has for a name
// it carries, unless a dissector already named a more specific one. It
// reports whether it set the application.
func (c *Ctx) applyHostRule(name string) bool {
	en, ok := c.e.catalog.Load().Host(name)
	if !ok {
		return false
	}
	r := &c.Flow.Result
	set := false
	if en.App != 0 && (r.App == 0 || r.App == r.Master) && en.App != r.Master {
		r.App, set = en.App, true
	}
	// A category override belongs to the application it came with.
	if en.Category != 0 && (set || en.App == 0 || en.App == r.App) {
		c.s.catCategory = en.Category
	}
	return set
}

// AppFromHost applies the catalog to a name the flow shows besides the
// requested one, such as a certificate's subject or alternative names
// ("*.world.waze.com" counts as world.waze.com). The requested name
// (SetHostname) keeps precedence: a flow that already has an application
// keeps it. It reports whether it set the application.
func (c *Ctx) AppFromHost(name string) bool {
	if name == "" {
		return false
	}
	return c.applyHostRule(name)
}

// learnedName gives a flow that carries no requested name the name DNS
// answers taught for its server and, when no application is named yet and
// the flow's protocol is one that carries applications (TLS, QUIC, HTTP,
// DTLS or none found), the application the catalog has for that name. It
// reports whether it set the application.
func (e *Engine) learnedName(f *Flow) bool {
	r := &f.Result
	if r.Hostname != "" || (f.key.proto != IPProtoTCP && f.key.proto != IPProtoUDP) {
		return false
	}
	n, ok := e.dns.Get(f.Server().Addr())
	if !ok {
		return false
	}
	r.Hostname = n
	if r.App != 0 && r.App != r.Master {
		return false
	}
	switch r.Master {
	case 0, ProtoTLS, ProtoQUIC, ProtoHTTP, ProtoDTLS:
	default:
		return false
	}
	en, ok := e.catalog.Load().Host(n)
	if !ok || en.App == 0 || en.App == r.Master {
		return false
	}
	r.App, r.Confidence = en.App, ConfDNSCache
	if f.s != nil && en.Category != 0 {
		f.s.catCategory = en.Category
	}
	return true
}
