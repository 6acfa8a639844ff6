// Package dnsmsg reads DNS messages (RFC 1035 §4) off the wire for deep
// packet inspection: the header, the first question, the address answers
// along the CNAME chain of that question, and the facts a detector flags
// (record types, zero TTLs, EDNS(0) payload size). The same format carries
// mDNS (RFC 6762) and LLMNR (RFC 4795).
//
// Parsing allocates nothing: names are decoded into fixed buffers inside
// the caller's Message, compression pointers must point strictly backwards
// (so a pointer loop cannot make the parser spin), and every read is
// bounds-checked, so any input is safe.
package dnsmsg

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"ips/internal/ascii"
)

// HeaderLen is the size of the fixed message header (RFC 1035 §4.1.1).
const HeaderLen = 12

// MaxName is the longest name in presentation form: 255 octets on the wire
// (RFC 1035 §2.3.4) less the length octets and the root label.
const MaxName = 253

// MaxAddrs is how many address answers a Message keeps.
const MaxAddrs = 16

// Record types and classes this package gives meaning to.
const (
	TypeA     uint16 = 1
	TypeNS    uint16 = 2
	TypeCNAME uint16 = 5
	TypeSOA   uint16 = 6
	TypeNULL  uint16 = 10
	TypePTR   uint16 = 12
	TypeMX    uint16 = 15
	TypeTXT   uint16 = 16
	TypeAAAA  uint16 = 28
	TypeSRV   uint16 = 33
	TypeOPT   uint16 = 41
	TypeANY   uint16 = 255

	ClassIN uint16 = 1
)

// Errors. The parser reports the first problem it meets.
var (
	ErrShort       = errors.New("dnsmsg: message too short")
	ErrLabel       = errors.New("dnsmsg: bad label type")
	ErrPointer     = errors.New("dnsmsg: compression pointer does not point backwards")
	ErrNameTooLong = errors.New("dnsmsg: name longer than 255 octets")
	ErrHeader      = errors.New("dnsmsg: implausible header")
	ErrQuestion    = errors.New("dnsmsg: implausible question")
)

// Header is the fixed header (RFC 1035 §4.1.1).
type Header struct {
	ID, Flags                          uint16
	QDCount, ANCount, NSCount, ARCount uint16
}

// Response reports the QR bit.
func (h *Header) Response() bool { return h.Flags&0x8000 != 0 }

// Opcode is the kind of query (0 query, 1 inverse, 2 status, 4 notify,
// 5 update).
func (h *Header) Opcode() uint8 { return uint8(h.Flags>>11) & 0xf }

// RCode is the response code (0 no error, 3 NXDOMAIN, …).
func (h *Header) RCode() uint8 { return uint8(h.Flags & 0xf) }

// Truncated reports the TC bit: the answer did not fit the transport.
func (h *Header) Truncated() bool { return h.Flags&0x0200 != 0 }

// ParseHeader reads the header at the start of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrShort
	}
	return Header{
		ID:      binary.BigEndian.Uint16(b[0:]),
		Flags:   binary.BigEndian.Uint16(b[2:]),
		QDCount: binary.BigEndian.Uint16(b[4:]),
		ANCount: binary.BigEndian.Uint16(b[6:]),
		NSCount: binary.BigEndian.Uint16(b[8:]),
		ARCount: binary.BigEndian.Uint16(b[10:]),
	}, nil
}

// Name is a decoded domain name in presentation order ("www.example.com",
// without the root dot). Label bytes are copied as they are; a '.' inside
// a label is not escaped.
type Name struct {
	buf [MaxName]byte
	n   uint8
	// Labels is the number of labels.
	Labels uint8
	// FirstLabel and LongestLabel are label lengths in octets.
	FirstLabel, LongestLabel uint8
	// NonHost: a label holds a byte outside letters, digits, '-' and '_'
	// (the host name rules of RFC 952/1123, plus the '_' of service
	// labels such as _sip._tcp).
	NonHost bool
	// NonPrint: a label holds a byte outside printable ASCII.
	NonPrint bool
}

// Bytes returns the name. It aliases n.
func (n *Name) Bytes() []byte { return n.buf[:n.n] }

// Len is the length of the name in presentation form.
func (n *Name) Len() int { return int(n.n) }

func (n *Name) reset() {
	n.n, n.Labels, n.FirstLabel, n.LongestLabel, n.NonHost, n.NonPrint = 0, 0, 0, 0, false, false
}

// ReadName decodes the name at off in msg into dst and returns the offset
// just past the name where it started (after the first pointer, if any).
func ReadName(msg []byte, off int, dst *Name) (int, error) {
	dst.reset()
	next := -1
	// limit is where the last pointer pointed: the next one must point
	// before it, so the chain of pointers strictly decreases and ends.
	limit := off
	wire := 1 // octets of the name on the wire, root label included
	for {
		if off < 0 || off >= len(msg) {
			return 0, ErrShort
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off + 1
				}
				return next, nil
			}
			if off+1+c > len(msg) {
				return 0, ErrShort
			}
			wire += 1 + c
			if wire > 255 {
				return 0, ErrNameTooLong
			}
			if dst.n > 0 {
				dst.buf[dst.n] = '.'
				dst.n++
			}
			for _, ch := range msg[off+1 : off+1+c] {
				dst.buf[dst.n] = ch
				dst.n++
				if !hostByte(ch) {
					dst.NonHost = true
					if ch < 0x20 || ch > 0x7e {
						dst.NonPrint = true
					}
				}
			}
			if dst.Labels == 0 {
				dst.FirstLabel = uint8(c)
			}
			if uint8(c) > dst.LongestLabel {
				dst.LongestLabel = uint8(c)
			}
			dst.Labels++
			off += 1 + c
		case 0xc0:
			if off+1 >= len(msg) {
				return 0, ErrShort
			}
			ptr := (c&0x3f)<<8 | int(msg[off+1])
			if ptr >= limit {
				return 0, ErrPointer
			}
			if next < 0 {
				next = off + 2
			}
			limit, off = ptr, ptr
		default:
			// 0x40 and 0x80: extended and reserved label types (RFC 6891
			// §5 retired the only one defined).
			return 0, ErrLabel
		}
	}
}

// SkipName returns the offset just past the name at off without decoding
// it.
func SkipName(msg []byte, off int) (int, error) {
	wire := 1
	for {
		if off < 0 || off >= len(msg) {
			return 0, ErrShort
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				return off + 1, nil
			}
			wire += 1 + c
			if wire > 255 {
				return 0, ErrNameTooLong
			}
			off += 1 + c
		case 0xc0:
			if off+1 >= len(msg) {
				return 0, ErrShort
			}
			return off + 2, nil
		default:
			return 0, ErrLabel
		}
	}
}

func hostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// Obsolete reports whether t is a record type IANA's registry marks
// obsolete, experimental or deprecated (MD, MF, MB, MG, MR, NULL, WKS,
// HINFO, MINFO, A6, …) or a meta-type for them (MAILA, MAILB). Ordinary
// software does not ask for them; DNS tunnels like NULL and friends
// because they carry arbitrary bytes.
func Obsolete(t uint16) bool {
	switch t {
	case 3, 4, 7, 8, 9, 10, 11, 13, 14, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 30, 31, 32, 34,
		38, 40, 42, 56, 57, 58, 99, 100, 101, 102, 103, 104, 105, 106, 107, 253, 254, 259:
		return true
	}
	return false
}

// Message is what a detector wants of one DNS message. Reuse one Message
// (or keep it on the stack): Parse overwrites every field.
type Message struct {
	Header
	// Name is the first question's name or, in a message without
	// questions (an mDNS announcement), the first answer's owner.
	Name Name
	// HasQuestion: Name, QType and QClass come from a question.
	HasQuestion   bool
	QType, QClass uint16
	// Addrs are the A and AAAA answers for Name, following CNAMEs;
	// TotalAddrs counts them all, beyond MaxAddrs too.
	Addrs      [MaxAddrs]netip.Addr
	NumAddrs   int
	TotalAddrs int
	// CNAMEs is the length of the CNAME chain followed from Name.
	CNAMEs int
	// Answers counts the answer records read; FirstType is the first
	// one's type.
	Answers   int
	FirstType uint16
	// ObsoleteType: an answer (or the question) has an Obsolete type.
	ObsoleteType bool
	// ZeroTTL: an answer record has a TTL of 0.
	ZeroTTL bool
	// EDNSSize is the UDP payload size of an OPT record (RFC 6891 §6.1.2),
	// 0 without one.
	EDNSSize uint16
	// Partial: the records ended before the header's counts did (a
	// truncated capture, a first fragment, or a malformed record). What
	// was read before is valid.
	Partial bool

	chain, owner Name
}

// Plausibility bounds for a message to count as DNS at all. Real messages
// stay far below; random bytes rarely do.
const maxCount = 1024

// Parse reads msg. It fails when the header is implausible or the first
// question (or, without questions, the first answer's owner) cannot be
// read; problems later in the message only set Partial.
func (m *Message) Parse(msg []byte) error {
	h, err := ParseHeader(msg)
	m.Header = h
	m.Name.reset()
	m.HasQuestion, m.QType, m.QClass = false, 0, 0
	m.NumAddrs, m.TotalAddrs, m.CNAMEs, m.Answers, m.FirstType = 0, 0, 0, 0, 0
	m.ObsoleteType, m.ZeroTTL, m.EDNSSize, m.Partial = false, false, 0, false
	if err != nil {
		return err
	}
	switch h.Opcode() {
	case 0, 1, 2, 4, 5:
	default:
		return ErrHeader
	}
	if h.QDCount > maxCount || h.ANCount > maxCount || h.NSCount > maxCount || h.ARCount > maxCount {
		return ErrHeader
	}
	if h.QDCount == 0 && (!h.Response() || h.ANCount == 0) {
		if h.Response() && h.ANCount == 0 && h.NSCount == 0 && h.ARCount == 0 && len(msg) == HeaderLen {
			return nil // an empty reply is well formed
		}
		return ErrQuestion
	}
	off := HeaderLen
	if h.QDCount > 0 {
		if off, err = ReadName(msg, off, &m.Name); err != nil {
			return err
		}
		if off+4 > len(msg) {
			return ErrShort
		}
		m.QType = binary.BigEndian.Uint16(msg[off:])
		m.QClass = binary.BigEndian.Uint16(msg[off+2:])
		if !plausibleClass(m.QClass) {
			return ErrQuestion
		}
		m.HasQuestion = true
		off += 4
		for i := 1; i < int(h.QDCount); i++ {
			if off, err = SkipName(msg, off); err != nil || off+4 > len(msg) {
				m.Partial = true
				return nil
			}
			off += 4
		}
	}
	m.chain = m.Name
	for i := 0; i < int(h.ANCount); i++ {
		if off, err = m.answer(msg, off, i == 0 && !m.HasQuestion); err != nil {
			if i == 0 && !m.HasQuestion {
				return err // nothing of a message was found
			}
			m.Partial = true
			return nil
		}
	}
	for i := 0; i < int(h.NSCount); i++ {
		if off, err = skipRecord(msg, off); err != nil {
			m.Partial = true
			return nil
		}
	}
	for i := 0; i < int(h.ARCount); i++ {
		start := off
		if off, err = SkipName(msg, off); err != nil || off+10 > len(msg) {
			m.Partial = true
			return nil
		}
		if binary.BigEndian.Uint16(msg[off:]) == TypeOPT && msg[start] == 0 {
			m.EDNSSize = binary.BigEndian.Uint16(msg[off+2:])
		}
		rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
		if off+10+rdlen > len(msg) {
			m.Partial = true
			return nil
		}
		off += 10 + rdlen
	}
	return nil
}

// answer reads one answer record at off. first: the message has no
// question, so the record's owner names the message.
func (m *Message) answer(msg []byte, off int, first bool) (int, error) {
	off, err := ReadName(msg, off, &m.owner)
	if err != nil {
		return 0, err
	}
	if off+10 > len(msg) {
		return 0, ErrShort
	}
	typ := binary.BigEndian.Uint16(msg[off:])
	class := binary.BigEndian.Uint16(msg[off+2:])
	ttl := binary.BigEndian.Uint32(msg[off+4:])
	rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
	rd := off + 10
	if rd+rdlen > len(msg) {
		return 0, ErrShort
	}
	if first {
		if !plausibleClass(class) {
			return 0, ErrQuestion
		}
		m.Name = m.owner
		m.chain = m.owner
	}
	if m.Answers == 0 {
		m.FirstType = typ
	}
	m.Answers++
	if ttl == 0 {
		m.ZeroTTL = true
	}
	if Obsolete(typ) {
		m.ObsoleteType = true
	}
	onChain := ascii.EqualFold(m.owner.Bytes(), m.chain.Bytes())
	switch {
	case typ == TypeCNAME && onChain:
		// The chain moves on to the canonical name (RFC 1034 §3.6.2).
		if _, err := ReadName(msg[:rd+rdlen], rd, &m.chain); err == nil {
			m.CNAMEs++
		}
	case typ == TypeA && rdlen == 4 && onChain:
		m.addAddr(netip.AddrFrom4([4]byte(msg[rd : rd+4])))
	case typ == TypeAAAA && rdlen == 16 && onChain:
		m.addAddr(netip.AddrFrom16([16]byte(msg[rd : rd+16])))
	}
	return rd + rdlen, nil
}

func (m *Message) addAddr(a netip.Addr) {
	if m.NumAddrs < MaxAddrs {
		m.Addrs[m.NumAddrs] = a
		m.NumAddrs++
	}
	m.TotalAddrs++
}

func skipRecord(msg []byte, off int) (int, error) {
	off, err := SkipName(msg, off)
	if err != nil {
		return 0, err
	}
	if off+10 > len(msg) {
		return 0, ErrShort
	}
	rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
	if off+10+rdlen > len(msg) {
		return 0, ErrShort
	}
	return off + 10 + rdlen, nil
}

// plausibleClass accepts the classes in use (IN, CH, HS, NONE, ANY); mDNS
// borrows the top bit for unicast-response / cache-flush (RFC 6762 §5.4,
// §10.2).
func plausibleClass(c uint16) bool {
	switch c & 0x7fff {
	case 1, 3, 4, 254, 255:
		return true
	}
	return false
}
