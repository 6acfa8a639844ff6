package policy

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"ips/dpi"
	"ips/pools"
)

// Category files put hosts and addresses into a category, so that
// "categories" markers can match them (a Malware or Mining blocklist).
// One entry per line; '#' starts a comment line; blank lines are skipped:
//
//	evil.example                 a hostname pattern (and everything below it)
//	*.tracker.example            subdomains only; "=host" for the name only
//	192.0.2.0/24                 an address or CIDR prefix (IPv4 or IPv6)
//	bad.example<TAB>Malware      with its own category (name or nDPI id),
//	203.0.113.7 100              separated by a tab or spaces, as nDPI's
//	                             categories files write it
//
// An entry without a category takes the file's: the "category" of its
// settings entry, else the number that starts the file name, as in
// nDPI's lists ("100_malware.list" is category 100, Malware).

type catEntry struct {
	host   string
	kind   pools.HostKind
	prefix netip.Prefix
	isAddr bool
	cat    dpi.CategoryID
}

// fileCategory is the category named by a file name such as
// "100_malware.list".
func fileCategory(path string) (dpi.CategoryID, bool) {
	base := filepath.Base(path)
	i := 0
	for i < len(base) && base[i] >= '0' && base[i] <= '9' {
		i++
	}
	if i == 0 || i >= len(base) || base[i] != '_' {
		return 0, false
	}
	n, err := strconv.Atoi(base[:i])
	if err != nil || n <= 0 || !dpi.CategoryID(n).Valid() {
		return 0, false
	}
	return dpi.CategoryID(n), true
}

// parseCategoryFile reads a category file; def is the file's category (0
// when it has none).
func parseCategoryFile(f *srcFile, def dpi.CategoryID, d *diags) []catEntry {
	var out []catEntry
	b := f.src
	for ln, start := 0, 0; start < len(b); ln++ {
		end := lineEnd(b, start)
		line := string(b[start:end])
		lineOff := start
		start = end + 1
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			continue
		}
		off := lineOff + strings.Index(line, t)
		fields := strings.Fields(t)
		if len(fields) > 2 {
			d.errorf(f, off, "want \"HOST_OR_ADDRESS [CATEGORY]\", got %d fields", len(fields))
			continue
		}
		cat := def
		if len(fields) == 2 {
			c, ok := dpi.CategoryByName(fields[1])
			if !ok {
				d.errorf(f, off+strings.Index(t, fields[1]), "unknown category %q%s", fields[1], suggest(fields[1], categoryCandidates()))
				continue
			}
			cat = c
		}
		if cat == 0 {
			d.errorf(f, off, "%q has no category: write \"%s<TAB>CATEGORY\", give the file a \"category\", or name it ID_label.list", fields[0], fields[0])
			continue
		}
		e := catEntry{cat: cat}
		if looksLikeAddr(fields[0]) {
			p, err := pools.ParseMember(fields[0])
			if err != nil {
				d.errorf(f, off, "%v", err)
				continue
			}
			e.prefix, e.isAddr = p, true
		} else {
			h, k, err := pools.ParseHostPattern(fields[0])
			if err != nil {
				d.errorf(f, off, "%v", err)
				continue
			}
			e.host, e.kind = h, k
		}
		out = append(out, e)
	}
	return out
}

// looksLikeAddr tells addresses and prefixes from hostnames: an IPv6
// address has a colon, an IPv4 one only digits, dots and a slash.
func looksLikeAddr(s string) bool {
	if strings.Contains(s, ":") {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

func categoryCandidates() []string {
	var out []string
	for id := dpi.CategoryID(0); id < dpi.NumCategories; id++ {
		if id.Valid() {
			out = append(out, id.String())
		}
	}
	return append(out, "Download-FileTransfer-FileSharing", "ConnectivityCheck")
}
