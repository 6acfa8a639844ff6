package dpi

import (
	"bufio"
	"embed"
	"fmt"
	"io"
	"net/netip"
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
	hosts *netmatch.SuffixSet[CatalogEntry]
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
	hosts  *netmatch.SuffixSet[CatalogEntry]
	addrs  []netmatch.PrefixEntry[CatalogEntry]
	ports  map[uint32]CatalogEntry
	custom []customProto
}

// NewCatalogBuilder starts from the embedded defaults unless empty is set.
func NewCatalogBuilder(empty bool) *CatalogBuilder {
	b := &CatalogBuilder{hosts: netmatch.NewSuffixSet[CatalogEntry](), ports: map[uint32]CatalogEntry{}}
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

// AddHost adds a hostname rule; exact limits it to the name itself.
func (b *CatalogBuilder) AddHost(name string, exact bool, e CatalogEntry) {
	b.hosts.Add(name, exact, e)
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
//	ip:192.0.2.0/24@Tor                   address or prefix (ipv6: also)
//	tcp:8080,udp:5000-5010@App            ports and port ranges
//	host:"captive.apple.com"@Apple/ConnCheck   with a category override
//	host:"bad.example"@/Malware           a category only
//
// Several comma-separated rules may share one @App. Errors name the line.
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
			exact := strings.HasPrefix(v, "=")
			v = strings.TrimPrefix(v, "=")
			if v == "" || strings.ContainsAny(v, " \t/") {
				return fmt.Errorf("bad host %q", val)
			}
			b.AddHost(v, exact, e)
		case "ip", "ipv6":
			v := strings.Trim(strings.TrimSpace(val), `"[]`)
			// nDPI allows ip:ADDR:PORT; the port is ignored here.
			if kind == "ip" && strings.Count(v, ":") == 1 {
				v, _, _ = strings.Cut(v, ":")
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

// Host finds the entry for a lower-case hostname.
func (c *Catalog) Host(host string) (CatalogEntry, bool) {
	if c == nil {
		return CatalogEntry{}, false
	}
	e, _, ok := c.hosts.Lookup(host)
	return e, ok
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
