package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Diagnostic is one problem found while loading a policy, at a position
// in a file (Line and Col are 1-based; 0 when the problem is about the
// file as a whole).
type Diagnostic struct {
	File      string
	Line, Col int
	Warning   bool
	Msg       string
}

// String renders "file:line:col: message", with "warning: " before the
// message of a warning, as compilers print them.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", d.Line, max(d.Col, 1))
	}
	b.WriteString(": ")
	if d.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(d.Msg)
	return b.String()
}

// ErrorList is every error found in a policy; Load returns it as its
// error so callers can print each on its own line.
type ErrorList []Diagnostic

// MaxShown is how many problems are printed before the rest are only
// counted: a hostile or broken file of a million bad lines must not
// bury the first mistakes (or the terminal, or the log).
const MaxShown = 50

// Error renders the first MaxShown errors, one per line, and then how
// many more there are.
func (e ErrorList) Error() string {
	return strings.Join(Problems(e, nil), "\n")
}

// Problems renders errors and then warnings, one per line, at most
// MaxShown of them, followed by a line that counts the rest ("… and 12
// more errors and 3 more warnings").
func Problems(errs ErrorList, warns []Diagnostic) []string {
	var lines []string
	for _, d := range errs {
		if len(lines) == MaxShown {
			break
		}
		lines = append(lines, d.String())
	}
	moreErrs := len(errs) - len(lines)
	for _, d := range warns {
		if len(lines) == MaxShown {
			break
		}
		lines = append(lines, d.String())
	}
	moreWarns := len(errs) + len(warns) - len(lines) - moreErrs
	var more []string
	if moreErrs > 0 {
		more = append(more, plural(moreErrs, "more error"))
	}
	if moreWarns > 0 {
		more = append(more, plural(moreWarns, "more warning"))
	}
	if len(more) > 0 {
		lines = append(lines, "… and "+strings.Join(more, " and ")+" (only the first "+fmt.Sprint(MaxShown)+" problems are shown)")
	}
	return lines
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// srcFile is a file being read, with the offsets of its line starts,
// found when a position is first needed: a valid list of a million lines
// never needs them.
type srcFile struct {
	name  string
	src   []byte
	lines []int
}

func newSrcFile(name string, src []byte) *srcFile {
	return &srcFile{name: name, src: src}
}

// pos converts a byte offset to a line and a column counted in characters.
func (f *srcFile) pos(off int) (int, int) {
	if off < 0 {
		return 0, 0
	}
	if f.lines == nil {
		f.lines = []int{0}
		for i, c := range f.src {
			if c == '\n' {
				f.lines = append(f.lines, i+1)
			}
		}
	}
	off = min(off, len(f.src))
	i, found := slices.BinarySearch(f.lines, off)
	if !found {
		i--
	}
	return i + 1, utf8.RuneCount(f.src[f.lines[i]:off]) + 1
}

// diags collects diagnostics from every file a policy reads.
type diags struct {
	list []Diagnostic
	errs int
}

func (d *diags) add(f *srcFile, off int, warn bool, format string, args ...any) {
	dg := Diagnostic{Warning: warn, Msg: fmt.Sprintf(format, args...)}
	if f != nil {
		dg.File = f.name
		dg.Line, dg.Col = f.pos(off)
	}
	if !warn {
		d.errs++
	}
	d.list = append(d.list, dg)
}

func (d *diags) errorf(f *srcFile, off int, format string, args ...any) {
	d.add(f, off, false, format, args...)
}

func (d *diags) warnf(f *srcFile, off int, format string, args ...any) {
	d.add(f, off, true, format, args...)
}

// addRaw records a diagnostic produced elsewhere (a catalog file).
func (d *diags) addRaw(dg Diagnostic) {
	if !dg.Warning {
		d.errs++
	}
	d.list = append(d.list, dg)
}

// sorted returns errors and warnings in file order.
func (d *diags) sorted() (errs ErrorList, warns []Diagnostic) {
	all := slices.Clone(d.list)
	slices.SortStableFunc(all, func(a, b Diagnostic) int {
		if c := cmp.Compare(a.File, b.File); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Col, b.Col)
	})
	for _, x := range all {
		if x.Warning {
			warns = append(warns, x)
		} else {
			errs = append(errs, x)
		}
	}
	return errs, warns
}

// suggest returns ` (did you mean "X"?)` for the candidate nearest to
// word, or "" when none is near enough to be a plausible misspelling.
func suggest(word string, candidates []string) string {
	best := nearest(word, candidates)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// nearest finds the candidate with the smallest edit distance to word,
// comparing case-insensitively and ignoring spaces, dashes and
// underscores; the distance allowed grows with the word's length.
func nearest(word string, candidates []string) string {
	w := fold(word)
	if w == "" {
		return ""
	}
	limit := 1
	switch n := utf8.RuneCountInString(w); {
	case n >= 9:
		limit = 3
	case n >= 5:
		limit = 2
	}
	best, bestD := "", limit+1
	for _, c := range candidates {
		fc := fold(c)
		if fc == "" {
			continue
		}
		d := editDistance(w, fc, bestD)
		if d < bestD {
			best, bestD = c, d
		}
	}
	if bestD > limit {
		return ""
	}
	return best
}

func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r == ' ' || r == '-' || r == '_' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// editDistance is the optimal string alignment distance (insertions,
// deletions, substitutions and transpositions of neighbours), giving up
// once it exceeds bound.
func editDistance(a, b string, bound int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > bound || -d > bound {
		return bound + 1
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > bound {
			return bound + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
