package policy

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"strconv"

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
	host   []byte // lower-cased; valid only during the callback
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
// when it has none). It calls fn for each valid entry, allocating nothing
// per line: blocklists run to millions of lines.
func parseCategoryFile(f *srcFile, def dpi.CategoryID, d *diags, fn func(catEntry)) {
	b := f.src
	var name []byte
	for start := 0; start < len(b); {
		end := lineEnd(b, start)
		line := b[start:end]
		lineOff := start
		start = end + 1
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		off := lineOff + bytes.Index(line, t)
		first, rest := cutField(t)
		second, rest := cutField(rest)
		if len(rest) > 0 {
			d.errorf(f, off, "want \"HOST_OR_ADDRESS [CATEGORY]\", got %d fields", len(bytes.Fields(t)))
			continue
		}
		cat := def
		if len(second) > 0 {
			c, ok := dpi.CategoryByName(string(second))
			if !ok {
				d.errorf(f, off+bytes.Index(t, second), "unknown category %q%s", second, suggest(string(second), categoryCandidates()))
				continue
			}
			cat = c
		}
		if cat == 0 {
			d.errorf(f, off, "%q has no category: write \"%s<TAB>CATEGORY\", give the file a \"category\", or name it ID_label.list", first, first)
			continue
		}
		e := catEntry{cat: cat}
		if looksLikeAddr(first) {
			p, err := pools.ParseMember(string(first))
			if err != nil {
				d.errorf(f, off, "%v", err)
				continue
			}
			e.prefix, e.isAddr = p, true
		} else {
			h, k, err := pools.AppendHostPattern(name[:0], first)
			name = h
			if err != nil {
				d.errorf(f, off, "%v", err)
				continue
			}
			e.host, e.kind = h, k
		}
		fn(e)
	}
}

// cutField splits the first blank-separated field off b (which starts
// with a non-blank), returning the rest without its leading blanks.
func cutField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && !isBlank(b[i]) {
		i++
	}
	field, rest = b[:i], b[i:]
	for len(rest) > 0 && isBlank(rest[0]) {
		rest = rest[1:]
	}
	return field, rest
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }

// looksLikeAddr tells addresses and prefixes from hostnames: an IPv6
// address has a colon, an IPv4 one only digits, dots and a slash.
func looksLikeAddr(s []byte) bool {
	if bytes.IndexByte(s, ':') >= 0 {
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
