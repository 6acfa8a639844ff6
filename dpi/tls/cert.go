package tls

import (
	"bytes"
	"crypto/sha1"
	"net/netip"

	"ips/internal/ascii"
)

// LeafCertificate returns the DER of the first certificate of a Certificate
// handshake message body: TLS ≤ 1.2 and DTLS (RFC 5246 §7.4.2), or TLS 1.3
// (RFC 8446 §4.4.2, with a request context and per-entry extensions).
// body may be a prefix of the message: only the leaf must be complete,
// else ErrShort (more bytes may still come) is returned.
func LeafCertificate(body []byte, tls13 bool) ([]byte, error) {
	c := cursor{b: body}
	if tls13 {
		c.vec8() // certificate_request_context
	}
	total := c.u24()
	n := c.u24()
	if c.bad {
		return nil, ErrShort
	}
	if n == 0 || n+3 > total {
		return nil, ErrMalformed
	}
	der := c.take(n)
	if c.bad {
		return nil, ErrShort
	}
	return der, nil
}

// Bounds of Certificate.
const (
	// MaxDN bounds a rendered distinguished name.
	MaxDN = 512
	// MaxDNValue is how much of one attribute value is kept: nDPI keeps 63
	// bytes, and rendering alike keeps names comparable.
	MaxDNValue = 63
	MaxNames   = 32
)

// GeneralName kinds kept from subjectAltName (RFC 5280 §4.2.1.6).
const (
	NameEmail = 1 // rfc822Name
	NameDNS   = 2 // dNSName
	NameIP    = 7 // iPAddress (4 or 16 bytes)
)

// GeneralName is one subjectAltName entry; Value points into the DER.
type GeneralName struct {
	Kind  uint8
	Value []byte
}

// Certificate is what the parser keeps of an X.509 certificate (RFC 5280
// §4.1): issuer and subject rendered the way nDPI prints them ("C=US,
// O=Let's Encrypt, CN=R3": the C, ST, L, O, OU and CN attributes in wire
// order, printable values only), validity, subjectAltName entries and the
// SHA-1 of the DER.
type Certificate struct {
	issuer, subject [MaxDN]byte
	nIssuer         int
	nSubject        int
	// IssuerCN and SubjectCN are the last common name of each (raw bytes
	// from the DER); IssuerAttrs and SubjectAttrs count all attributes.
	IssuerCN, SubjectCN       []byte
	IssuerAttrs, SubjectAttrs int

	NotBefore, NotAfter int64 // Unix seconds
	HasValidity         bool

	// Names holds the first MaxNames subjectAltName entries; MatchesHost
	// checks them all.
	Names    [MaxNames]GeneralName
	NumNames int
	HasSAN   bool
	san      []byte // the whole GeneralNames sequence

	SHA1      [20]byte
	Truncated bool // a name or the SAN list was cut at its bound
}

// Issuer and Subject return the rendered names (valid until the next
// ParseCertificate into c).
func (c *Certificate) Issuer() []byte  { return c.issuer[:c.nIssuer] }
func (c *Certificate) Subject() []byte { return c.subject[:c.nSubject] }

// SelfIssued reports whether issuer and subject render the same, nDPI's
// test for a self-signed certificate.
func (c *Certificate) SelfIssued() bool {
	return c.nIssuer > 0 && string(c.Issuer()) == string(c.Subject())
}

// DER tags.
const (
	tagBoolean     = 0x01
	tagInteger     = 0x02
	tagBitString   = 0x03
	tagOctetString = 0x04
	tagOID         = 0x06
	tagUTCTime     = 0x17
	tagGenTime     = 0x18
	tagSequence    = 0x30
	tagSet         = 0x31
	tagExplicit0   = 0xa0
	tagExplicit3   = 0xa3
)

// derReader walks DER TLVs (X.690 §8.1) with bounds checks; only
// single-byte tags and definite lengths up to 4 bytes are accepted.
type derReader struct{ b []byte }

func (r *derReader) next() (tag byte, val []byte, ok bool) {
	b := r.b
	if len(b) < 2 {
		return 0, nil, false
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, false // high tag numbers do not occur in certificates
	}
	n := int(b[1])
	hdr := 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 || len(b) < 2+k {
			return 0, nil, false
		}
		n = 0
		for _, x := range b[2 : 2+k] {
			n = n<<8 | int(x)
		}
		hdr += k
	}
	if n < 0 || n > len(b)-hdr {
		return 0, nil, false
	}
	r.b = b[hdr+n:]
	return tag, b[hdr : hdr+n : hdr+n], true
}

func (r *derReader) expect(tag byte) ([]byte, bool) {
	t, v, ok := r.next()
	return v, ok && t == tag
}

// ParseCertificate parses one DER certificate into c.
func ParseCertificate(der []byte, c *Certificate) error {
	*c = Certificate{}
	c.SHA1 = sha1.Sum(der)
	top := derReader{der}
	cert, ok := top.expect(tagSequence)
	if !ok {
		return ErrMalformed
	}
	r := derReader{cert}
	tbs, ok := r.expect(tagSequence)
	if !ok {
		return ErrMalformed
	}
	t := derReader{tbs}
	tag, _, ok := t.next()
	if ok && tag == tagExplicit0 { // version
		tag, _, ok = t.next()
	}
	if !ok || tag != tagInteger { // serialNumber
		return ErrMalformed
	}
	if _, ok = t.expect(tagSequence); !ok { // signature algorithm
		return ErrMalformed
	}
	issuer, ok := t.expect(tagSequence)
	if !ok {
		return ErrMalformed
	}
	c.nIssuer, c.IssuerCN, c.IssuerAttrs = renderName(c.issuer[:], issuer, &c.Truncated)
	if validity, ok := t.expect(tagSequence); ok {
		v := derReader{validity}
		tb, nb, ok1 := v.next()
		ta, na, ok2 := v.next()
		if ok1 && ok2 {
			b, okb := parseTime(tb, nb)
			a, oka := parseTime(ta, na)
			if okb && oka {
				c.NotBefore, c.NotAfter, c.HasValidity = b, a, true
			}
		}
	} else {
		return ErrMalformed
	}
	subject, ok := t.expect(tagSequence)
	if !ok {
		return ErrMalformed
	}
	c.nSubject, c.SubjectCN, c.SubjectAttrs = renderName(c.subject[:], subject, &c.Truncated)
	t.next() // subjectPublicKeyInfo
	for {
		tag, v, ok := t.next()
		if !ok {
			break
		}
		if tag == tagExplicit3 {
			c.parseExtensions(v)
		}
	}
	return nil
}

// attrLabel names the X.520 attributes nDPI prints (OID 2.5.4.n).
func attrLabel(oid []byte) string {
	if len(oid) != 3 || oid[0] != 0x55 || oid[1] != 0x04 {
		return ""
	}
	switch oid[2] {
	case 3:
		return "CN"
	case 6:
		return "C"
	case 7:
		return "L"
	case 8:
		return "ST"
	case 10:
		return "O"
	case 11:
		return "OU"
	}
	return ""
}

// renderName writes "C=.., O=.., CN=.." into dst and returns its length,
// the last CN value and the number of attributes.
func renderName(dst []byte, name []byte, truncated *bool) (n int, cn []byte, attrs int) {
	rdns := derReader{name}
	for {
		set, ok := rdns.expect(tagSet)
		if !ok {
			return
		}
		atvs := derReader{set}
		for {
			atv, ok := atvs.expect(tagSequence)
			if !ok {
				break
			}
			a := derReader{atv}
			oid, ok1 := a.expect(tagOID)
			_, val, ok2 := a.next()
			if !ok1 || !ok2 {
				continue
			}
			attrs++
			label := attrLabel(oid)
			if label == "" {
				continue
			}
			if label == "CN" {
				cn = val
			}
			if !printable(val) {
				continue
			}
			if len(val) > MaxDNValue {
				val = val[:MaxDNValue]
			}
			need := len(label) + 1 + len(val)
			if n > 0 {
				need += 2
			}
			if n+need > len(dst) {
				*truncated = true
				continue
			}
			if n > 0 {
				n += copy(dst[n:], ", ")
			}
			n += copy(dst[n:], label)
			dst[n] = '='
			n++
			n += copy(dst[n:], val)
		}
	}
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// oidSubjectAltName is 2.5.29.17.
var oidSubjectAltName = []byte{0x55, 0x1d, 0x11}

func (c *Certificate) parseExtensions(b []byte) {
	outer := derReader{b}
	list, ok := outer.expect(tagSequence)
	if !ok {
		return
	}
	exts := derReader{list}
	for {
		ext, ok := exts.expect(tagSequence)
		if !ok {
			return
		}
		e := derReader{ext}
		oid, ok := e.expect(tagOID)
		if !ok || string(oid) != string(oidSubjectAltName) {
			continue
		}
		tag, v, ok := e.next()
		if ok && tag == tagBoolean { // critical
			tag, v, ok = e.next()
		}
		if !ok || tag != tagOctetString {
			continue
		}
		c.parseSAN(v)
	}
}

func (c *Certificate) parseSAN(b []byte) {
	outer := derReader{b}
	seq, ok := outer.expect(tagSequence)
	if !ok {
		return
	}
	c.HasSAN = true
	c.san = seq
	it := derReader{seq}
	for {
		n, ok := nextGeneralName(&it)
		if !ok {
			return
		}
		if c.NumNames == MaxNames {
			c.Truncated = true
			return
		}
		c.Names[c.NumNames] = n
		c.NumNames++
	}
}

// nextGeneralName returns the next name of a kind the parser keeps.
func nextGeneralName(r *derReader) (GeneralName, bool) {
	for {
		tag, v, ok := r.next()
		if !ok {
			return GeneralName{}, false
		}
		switch tag {
		case 0x81:
			return GeneralName{NameEmail, v}, true
		case 0x82:
			return GeneralName{NameDNS, v}, true
		case 0x87:
			return GeneralName{NameIP, v}, true
		}
	}
}

// parseTime reads a UTCTime or GeneralizedTime in the forms RFC 5280
// §4.1.2.5 allows (YYMMDDHHMMSSZ, YYYYMMDDHHMMSSZ) into Unix seconds.
func parseTime(tag byte, b []byte) (int64, bool) {
	var year int
	switch {
	case tag == tagUTCTime && len(b) == 13:
		yy, ok := digits(b[0:2])
		if !ok {
			return 0, false
		}
		year = 1900 + yy
		if yy < 50 {
			year = 2000 + yy
		}
		b = b[2:]
	case tag == tagGenTime && len(b) == 15:
		y, ok := digits(b[0:4])
		if !ok {
			return 0, false
		}
		year = y
		b = b[4:]
	default:
		return 0, false
	}
	if b[10] != 'Z' {
		return 0, false
	}
	mon, ok1 := digits(b[0:2])
	day, ok2 := digits(b[2:4])
	hh, ok3 := digits(b[4:6])
	mm, ok4 := digits(b[6:8])
	ss, ok5 := digits(b[8:10])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return 0, false
	}
	return daysFromCivil(year, mon, day)*86400 + int64(hh*3600+mm*60+ss), true
}

func digits(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// daysFromCivil counts days from 1970-01-01 to y-m-d in the proleptic
// Gregorian calendar (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// MatchesHost reports whether a subjectAltName entry covers host (lower
// case): an exact dNSName, a wildcard "*.example.com" covering any name
// below example.com (as lenient as nDPI, to keep mismatch alerts for real
// mismatches), an email, or an IP address entry equal to a literal host.
func (c *Certificate) MatchesHost(host []byte) bool {
	ip, isIP := hostAddr(host)
	it := derReader{c.san}
	for {
		n, ok := nextGeneralName(&it)
		if !ok {
			return false
		}
		switch n.Kind {
		case NameDNS, NameEmail:
			v := n.Value
			if len(v) > 2 && v[0] == '*' && v[1] == '.' {
				suffix := v[1:]
				if len(host) > len(suffix) && ascii.EqualFold(host[len(host)-len(suffix):], suffix) {
					return true
				}
				continue
			}
			if ascii.EqualFold(v, host) {
				return true
			}
		case NameIP:
			if !isIP {
				continue
			}
			if a, ok := netip.AddrFromSlice(n.Value); ok && a.Unmap() == ip.Unmap() {
				return true
			}
		}
	}
}

// hostAddr reads an IP literal host without allocating for the (common)
// case of a name.
func hostAddr(host []byte) (netip.Addr, bool) {
	if IsIPv4Literal(host) {
		var a [4]byte
		i := 0
		for _, c := range host {
			if c == '.' {
				i++
				continue
			}
			a[i] = a[i]*10 + c - '0'
		}
		return netip.AddrFrom4(a), true
	}
	if bytes.IndexByte(host, ':') < 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(string(host))
	return a, err == nil
}
