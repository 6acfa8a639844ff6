package policy

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// A small strict JSON parser (RFC 8259) that keeps the byte offset of
// every key and value, so that validation can point at file:line:col for
// any problem, keeps object members in file order, detects duplicate keys,
// and keeps numbers as their literal text (bitmaps are 64-bit). The
// standard decoder reports only the offset of a syntax error.

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

var jkindNames = [...]string{"null", "boolean", "number", "string", "array", "object"}

func (k jkind) String() string { return jkindNames[k] }

type jnode struct {
	kind  jkind
	off   int    // offset of the value's first byte in the file
	str   string // string value, number literal
	b     bool
	elems []*jnode
	mems  []jmember
	// lazy marks a "hostnames" object that was checked but not built:
	// a blocklist of a million names would cost a node, a member and a
	// key string each. count is its number of members; eachMember
	// reads them from the file again, one at a time.
	lazy       bool
	count, end int
}

type jmember struct {
	key string
	off int // offset of the key's opening quote
	val *jnode
}

// member returns the value of key, or nil.
func (n *jnode) member(key string) *jnode {
	for i := range n.mems {
		if n.mems[i].key == key {
			return n.mems[i].val
		}
	}
	return nil
}

type jsonError struct {
	off int
	msg string
}

const maxJSONDepth = 64

type jparser struct {
	src   []byte
	i     int
	depth int
	// lazy leaves the objects of "hostnames" keys unbuilt (jnode.lazy).
	lazy bool
}

// lazyKey is the key whose object value is left lazy: the one table that
// real policies fill with hundreds of thousands of entries.
const lazyKey = "hostnames"

// parseJSONValue parses one value starting at src[start:], skipping
// leading whitespace, and returns it with the offset just past it.
func parseJSONValue(src []byte, start int) (*jnode, int, *jsonError) {
	p := &jparser{src: src, i: start, lazy: true}
	p.space()
	n, err := p.value()
	if err != nil {
		return nil, p.i, err
	}
	return n, p.i, nil
}

func (p *jparser) errf(off int, msg string) *jsonError { return &jsonError{off, msg} }

func (p *jparser) space() {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jparser) value() (*jnode, *jsonError) {
	if p.i >= len(p.src) {
		return nil, p.errf(p.i, "unexpected end of input, want a value")
	}
	start := p.i
	switch c := p.src[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		return &jnode{kind: jString, off: start, str: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", &jnode{kind: jBool, off: start, b: true})
	case c == 'f':
		return p.literal("false", &jnode{kind: jBool, off: start})
	case c == 'n':
		return p.literal("null", &jnode{kind: jNull, off: start})
	case c == '\'':
		return nil, p.errf(start, "strings take double quotes in JSON")
	case c == '#':
		return nil, p.errf(start, "comments are only allowed on lines of their own (nProbe format)")
	default:
		return nil, p.errf(start, "unexpected character "+quoteChar(p.src[p.i:])+", want a value")
	}
}

func quoteChar(b []byte) string {
	r, _ := utf8.DecodeRune(b)
	return strconv.QuoteRune(r)
}

func (p *jparser) literal(word string, n *jnode) (*jnode, *jsonError) {
	if !strings.HasPrefix(string(p.src[p.i:min(len(p.src), p.i+len(word))]), word) {
		return nil, p.errf(p.i, "unexpected "+quoteWord(p.src[p.i:])+", want a value")
	}
	p.i += len(word)
	return n, nil
}

// quoteWord quotes the identifier-like run at the start of b, for messages
// about bare words such as an unquoted key or marker.
func quoteWord(b []byte) string {
	j := 0
	for j < len(b) && j < 40 {
		c := b[j]
		if c == ',' || c == '}' || c == ']' || c == ':' || c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '"' {
			break
		}
		j++
	}
	if j == 0 {
		return quoteChar(b)
	}
	return strconv.Quote(string(b[:j]))
}

func (p *jparser) number() (*jnode, *jsonError) {
	start := p.i
	if err := p.scanNumber(); err != nil {
		return nil, err
	}
	return &jnode{kind: jNumber, off: start, str: string(p.src[start:p.i])}, nil
}

// scanNumber checks the number at p.i and moves past it.
func (p *jparser) scanNumber() *jsonError {
	start := p.i
	s := p.src
	i := p.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return p.errf(start, "bad number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return p.errf(start, "bad number: digits must follow the decimal point")
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return p.errf(start, "bad number: digits must follow the exponent")
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
		return p.errf(start, "bad number "+quoteWord(s[start:]))
	}
	p.i = i
	return nil
}

func (p *jparser) string() (string, *jsonError) {
	b, err := p.stringBytes()
	return string(b), err
}

// stringBytes reads a string: a slice of the source when it has no
// escapes (nothing is allocated), else a decoded copy.
func (p *jparser) stringBytes() ([]byte, *jsonError) {
	start := p.i
	p.i++ // opening quote
	var b []byte
	simple := true
	from := p.i
	for {
		if p.i >= len(p.src) {
			return nil, p.errf(start, "unterminated string")
		}
		c := p.src[p.i]
		switch {
		case c == '"':
			if simple {
				b = p.src[from:p.i]
			}
			p.i++
			return b, nil
		case c == '\\':
			if simple {
				b = append(b, p.src[from:p.i]...)
				simple = false
			}
			if p.i+1 >= len(p.src) {
				return nil, p.errf(start, "unterminated string")
			}
			esc := p.src[p.i+1]
			switch esc {
			case '"', '\\', '/':
				b = append(b, esc)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, n, ok := p.unicodeEscape(p.i)
				if !ok {
					return nil, p.errf(p.i, `bad \u escape`)
				}
				b = utf8.AppendRune(b, r)
				p.i += n
				continue
			default:
				return nil, p.errf(p.i, "bad escape "+strconv.Quote(string(p.src[p.i:p.i+2])))
			}
			p.i += 2
		case c < 0x20:
			if c == '\n' {
				return nil, p.errf(start, "unterminated string (a newline inside a string must be written \\n)")
			}
			return nil, p.errf(p.i, "control character in string")
		case c < utf8.RuneSelf:
			if !simple {
				b = append(b, c)
			}
			p.i++
		default:
			r, n := utf8.DecodeRune(p.src[p.i:])
			if r == utf8.RuneError && n == 1 {
				return nil, p.errf(p.i, "invalid UTF-8 in string")
			}
			if !simple {
				b = append(b, p.src[p.i:p.i+n]...)
			}
			p.i += n
		}
	}
}

// unicodeEscape reads \uXXXX at i (and a low surrogate after a high one).
func (p *jparser) unicodeEscape(i int) (rune, int, bool) {
	hex4 := func(j int) (rune, bool) {
		if j+6 > len(p.src) || p.src[j] != '\\' || p.src[j+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(p.src[j+2:j+6]), 16, 16)
		return rune(v), err == nil
	}
	r, ok := hex4(i)
	if !ok {
		return 0, 0, false
	}
	if r >= 0xd800 && r < 0xdc00 {
		if lo, ok := hex4(i + 6); ok && lo >= 0xdc00 && lo < 0xe000 {
			return (r-0xd800)<<10 + (lo - 0xdc00) + 0x10000, 12, true
		}
		return utf8.RuneError, 6, true
	}
	if r >= 0xdc00 && r < 0xe000 {
		return utf8.RuneError, 6, true
	}
	return r, 6, true
}

func (p *jparser) enter() *jsonError {
	p.depth++
	if p.depth > maxJSONDepth {
		return p.errf(p.i, "nested too deeply")
	}
	return nil
}

func (p *jparser) object() (*jnode, *jsonError) {
	n := &jnode{kind: jObject, off: p.i}
	err := p.eachMember(func(kb []byte, koff int) *jsonError {
		key := string(kb)
		if p.lazy && key == lazyKey && p.i < len(p.src) && p.src[p.i] == '{' {
			v, err := p.skim()
			if err != nil {
				return err
			}
			n.mems = append(n.mems, jmember{key: key, off: koff, val: v})
			return nil
		}
		v, err := p.value()
		if err != nil {
			return err
		}
		n.mems = append(n.mems, jmember{key: key, off: koff, val: v})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// eachMember reads the object at p.i, calling fn with each key (valid
// only during the call) and its offset, with p at the member's value,
// which fn must read.
func (p *jparser) eachMember(fn func(key []byte, koff int) *jsonError) *jsonError {
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	off := p.i
	p.i++
	p.space()
	if p.i < len(p.src) && p.src[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.space()
		if p.i >= len(p.src) {
			return p.errf(off, "unterminated object")
		}
		if p.src[p.i] != '"' {
			if p.src[p.i] == '}' {
				return p.errf(p.i, "trailing comma before '}'")
			}
			return p.errf(p.i, "unexpected "+quoteWord(p.src[p.i:])+", want a key in double quotes")
		}
		koff := p.i
		key, err := p.stringBytes()
		if err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.src) || p.src[p.i] != ':' {
			return p.errf(p.i, "want ':' after key "+strconv.Quote(string(key)))
		}
		p.i++
		p.space()
		if err := fn(key, koff); err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.src) {
			return p.errf(off, "unterminated object (missing '}')")
		}
		switch p.src[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.errf(p.i, "unexpected "+quoteWord(p.src[p.i:])+", want ',' or '}' (a missing comma?)")
		}
	}
}

// skim checks the object at p.i and counts its members without building
// it: a lazy node.
func (p *jparser) skim() (*jnode, *jsonError) {
	n := &jnode{kind: jObject, off: p.i, lazy: true}
	err := p.eachMember(func([]byte, int) *jsonError {
		n.count++
		_, err := p.scalar()
		return err
	})
	if err != nil {
		return nil, err
	}
	n.end = p.i
	return n, nil
}

// jscalar is a value read by scalar: strings and numbers without a node
// (raw is the string's bytes or the number's literal, valid while the
// source is), anything else as a node.
type jscalar struct {
	kind jkind
	off  int
	raw  []byte
	node *jnode
}

// scalar reads the value at p.i, allocating only for values other than
// strings, numbers and literals.
func (p *jparser) scalar() (jscalar, *jsonError) {
	v := jscalar{off: p.i}
	if p.i >= len(p.src) {
		_, err := p.value()
		return v, err
	}
	switch c := p.src[p.i]; {
	case c == '"':
		b, err := p.stringBytes()
		v.kind, v.raw = jString, b
		return v, err
	case c == '-' || (c >= '0' && c <= '9'):
		err := p.scanNumber()
		v.kind, v.raw = jNumber, p.src[v.off:p.i]
		return v, err
	}
	n, err := p.value()
	if err != nil {
		return v, err
	}
	v.kind, v.node = n.kind, n
	return v, nil
}

// eachMember calls fn for each member of an object node, reading a lazy
// one from src again without allocating for string and number values.
// The key and raw bytes are valid only during the call.
func eachMember(src []byte, n *jnode, fn func(key []byte, koff int, v jscalar)) {
	if !n.lazy {
		for _, m := range n.mems {
			v := jscalar{kind: m.val.kind, off: m.val.off, node: m.val}
			if m.val.kind == jString || m.val.kind == jNumber {
				v.raw = []byte(m.val.str)
			}
			fn([]byte(m.key), m.off, v)
		}
		return
	}
	p := &jparser{src: src, i: n.off}
	// The object was checked when it was skimmed: no error can occur.
	p.eachMember(func(key []byte, koff int) *jsonError {
		v, err := p.scalar()
		if err != nil {
			return err
		}
		fn(key, koff, v)
		return nil
	})
}

func (p *jparser) array() (*jnode, *jsonError) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	n := &jnode{kind: jArray, off: p.i}
	p.i++
	p.space()
	if p.i < len(p.src) && p.src[p.i] == ']' {
		p.i++
		return n, nil
	}
	for {
		p.space()
		if p.i >= len(p.src) {
			return nil, p.errf(n.off, "unterminated array (missing ']')")
		}
		if p.src[p.i] == ']' {
			return nil, p.errf(p.i, "trailing comma before ']'")
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, v)
		p.space()
		if p.i >= len(p.src) {
			return nil, p.errf(n.off, "unterminated array (missing ']')")
		}
		switch p.src[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return n, nil
		default:
			return nil, p.errf(p.i, "unexpected "+quoteWord(p.src[p.i:])+", want ',' or ']' (a missing comma?)")
		}
	}
}
