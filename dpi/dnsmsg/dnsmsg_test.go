package dnsmsg

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// msgBuilder writes messages in the wire format of RFC 1035 §4.1: the
// header (§4.1.1), questions (§4.1.2) and resource records (§4.1.3), with
// names as length-prefixed labels (§3.1) or compression pointers (§4.1.4).
type msgBuilder struct{ b []byte }

func newMsg(id, flags uint16, qd, an, ns, ar uint16) *msgBuilder {
	m := &msgBuilder{}
	m.u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar)
	return m
}

func (m *msgBuilder) u16(v uint16) *msgBuilder {
	m.b = binary.BigEndian.AppendUint16(m.b, v)
	return m
}

func (m *msgBuilder) u32(v uint32) *msgBuilder {
	m.b = binary.BigEndian.AppendUint32(m.b, v)
	return m
}

// name writes a name as labels ending in the root label.
func (m *msgBuilder) name(s string) *msgBuilder {
	if s != "" {
		for _, l := range strings.Split(s, ".") {
			m.b = append(m.b, byte(len(l)))
			m.b = append(m.b, l...)
		}
	}
	m.b = append(m.b, 0)
	return m
}

// labelsThenPtr writes labels followed by a pointer to off.
func (m *msgBuilder) labelsThenPtr(s string, off int) *msgBuilder {
	for _, l := range strings.Split(s, ".") {
		m.b = append(m.b, byte(len(l)))
		m.b = append(m.b, l...)
	}
	return m.ptr(off)
}

func (m *msgBuilder) ptr(off int) *msgBuilder {
	m.b = append(m.b, 0xc0|byte(off>>8), byte(off))
	return m
}

func (m *msgBuilder) question(name string, typ, class uint16) *msgBuilder {
	return m.name(name).u16(typ).u16(class)
}

// rr writes the fixed part and rdata of a record whose owner was written.
func (m *msgBuilder) rr(typ, class uint16, ttl uint32, rdata []byte) *msgBuilder {
	m.u16(typ).u16(class).u32(ttl).u16(uint16(len(rdata)))
	m.b = append(m.b, rdata...)
	return m
}

func wireName(s string) []byte { return (&msgBuilder{}).name(s).b }

const (
	flagQR = 0x8000
	flagRD = 0x0100
	flagRA = 0x0080
)

func TestParseQuery(t *testing.T) {
	// A recursive query for www.example.com A (RFC 1035 §4.1.1: QR=0,
	// OPCODE=0, RD=1), with an EDNS(0) OPT pseudo-record (RFC 6891 §6.1.2:
	// root owner, CLASS = UDP payload size).
	b := newMsg(0x1234, flagRD, 1, 0, 0, 1).question("www.Example.com", TypeA, ClassIN).
		name("").rr(TypeOPT, 1232, 0, nil).b
	var m Message
	if err := m.Parse(b); err != nil {
		t.Fatal(err)
	}
	if m.Response() || !m.HasQuestion || string(m.Name.Bytes()) != "www.Example.com" || m.QType != TypeA || m.QClass != ClassIN {
		t.Fatalf("got %+v %q", m.Header, m.Name.Bytes())
	}
	if m.Name.Labels != 3 || m.Name.FirstLabel != 3 || m.Name.LongestLabel != 7 || m.Name.NonHost {
		t.Errorf("name facts %+v", m.Name)
	}
	if m.EDNSSize != 1232 || m.Partial {
		t.Errorf("edns %d partial %v", m.EDNSSize, m.Partial)
	}
}

func TestParseResponseCNAMEChain(t *testing.T) {
	// www.example.com CNAME web.example.net; web.example.net A 192.0.2.1,
	// AAAA 2001:db8::1; plus an A record for an unrelated owner that must
	// not be taken as an answer to the question. Owners use compression
	// pointers to the question name at offset 12 (RFC 1035 §4.1.4).
	m := newMsg(7, flagQR|flagRD|flagRA, 1, 4, 0, 0).question("www.example.com", TypeA, ClassIN)
	m.ptr(12).rr(TypeCNAME, ClassIN, 300, wireName("web.example.net"))
	m.name("web.example.net").rr(TypeA, ClassIN, 60, []byte{192, 0, 2, 1})
	m.name("web.example.net").rr(TypeAAAA, ClassIN, 60, netip.MustParseAddr("2001:db8::1").AsSlice())
	m.name("other.example").rr(TypeA, ClassIN, 0, []byte{198, 51, 100, 7})
	var msg Message
	if err := msg.Parse(m.b); err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}
	if msg.NumAddrs != 2 || msg.Addrs[0] != want[0] || msg.Addrs[1] != want[1] {
		t.Fatalf("addrs %v (%d)", msg.Addrs[:msg.NumAddrs], msg.NumAddrs)
	}
	if msg.CNAMEs != 1 || msg.Answers != 4 || msg.FirstType != TypeCNAME || !msg.ZeroTTL || msg.RCode() != 0 {
		t.Errorf("facts %+v", msg)
	}
}

func TestParseCNAMEWithCompressedTarget(t *testing.T) {
	// The CNAME target "cdn.example.com" is "cdn" + pointer to the
	// "example.com" suffix of the question (offset 12+4).
	m := newMsg(1, flagQR, 1, 2, 0, 0).question("www.example.com", TypeA, ClassIN)
	m.ptr(12).rr(TypeCNAME, ClassIN, 10, (&msgBuilder{}).labelsThenPtr("cdn", 16).b)
	m.labelsThenPtr("cdn", 16).rr(TypeA, ClassIN, 10, []byte{10, 0, 0, 9})
	var msg Message
	if err := msg.Parse(m.b); err != nil {
		t.Fatal(err)
	}
	if msg.NumAddrs != 1 || msg.Addrs[0] != netip.MustParseAddr("10.0.0.9") {
		t.Fatalf("addrs %v", msg.Addrs[:msg.NumAddrs])
	}
}

func TestParseNXDomain(t *testing.T) {
	// NXDOMAIN (RCODE 3) with the zone's SOA in the authority section.
	soa := append(append(wireName("ns.example"), wireName("admin.example")...), make([]byte, 20)...)
	m := newMsg(9, flagQR|3, 1, 0, 1, 0).question("nope.example", TypeAAAA, ClassIN)
	m.name("example").rr(TypeSOA, ClassIN, 3600, soa)
	var msg Message
	if err := msg.Parse(m.b); err != nil {
		t.Fatal(err)
	}
	if msg.RCode() != 3 || msg.NumAddrs != 0 || msg.Partial {
		t.Errorf("rcode %d addrs %d partial %v", msg.RCode(), msg.NumAddrs, msg.Partial)
	}
}

func TestParseMDNSAnnouncement(t *testing.T) {
	// An mDNS response without questions (RFC 6762 §6): the first answer's
	// owner names the message; the class has the cache-flush bit (§10.2).
	m := newMsg(0, 0x8400, 0, 1, 0, 0)
	m.name("lucas-imac.local").rr(TypeA, 0x8001, 120, []byte{192, 168, 2, 1})
	var msg Message
	if err := msg.Parse(m.b); err != nil {
		t.Fatal(err)
	}
	if msg.HasQuestion || string(msg.Name.Bytes()) != "lucas-imac.local" || msg.NumAddrs != 1 {
		t.Errorf("name %q addrs %d", msg.Name.Bytes(), msg.NumAddrs)
	}
}

func TestParseNameFacts(t *testing.T) {
	long := strings.Repeat("a", 57)
	for _, tc := range []struct {
		name              string
		label             []byte
		nonHost, nonPrint bool
	}{
		{"host", []byte("www"), false, false},
		{"service", []byte("_spotify-connect"), false, false},
		{"space", []byte("my printer"), true, false},
		{"control", []byte{'a', 0x01, 'b'}, true, true},
		{"utf8", []byte("caf\xc3\xa9"), true, true},
		{"long", []byte(long), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMsg(1, 0, 1, 0, 0, 0)
			m.b = append(m.b, byte(len(tc.label)))
			m.b = append(m.b, tc.label...)
			m.name("example").u16(TypeA).u16(ClassIN)
			var msg Message
			if err := msg.Parse(m.b); err != nil {
				t.Fatal(err)
			}
			n := &msg.Name
			if n.NonHost != tc.nonHost || n.NonPrint != tc.nonPrint || int(n.FirstLabel) != len(tc.label) {
				t.Errorf("facts %+v", *n)
			}
			if got := string(n.Bytes()); got != string(tc.label)+".example" {
				t.Errorf("name %q", got)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	q := newMsg(1, 0, 1, 0, 0, 0).question("a.example", TypeA, ClassIN).b
	loop := newMsg(1, 0, 1, 0, 0, 0).b
	loop = append(loop, 1, 'a', 0xc0, 12) // "a" then a pointer back to itself
	loop = binary.BigEndian.AppendUint32(loop, 0x00010001)
	fwd := newMsg(1, 0, 1, 0, 0, 0).ptr(14).name("x").u16(1).u16(1).b
	tooLong := newMsg(1, 0, 1, 0, 0, 0).b
	for range 5 {
		tooLong = append(tooLong, 63)
		tooLong = append(tooLong, strings.Repeat("x", 63)...)
	}
	tooLong = append(tooLong, 0, 0, 1, 0, 1)
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"header only query", q[:HeaderLen], ErrShort},
		{"query without question", newMsg(1, 0, 0, 0, 0, 0).b, ErrQuestion},
		{"cut question", q[:len(q)-2], ErrShort},
		{"cut name", q[:HeaderLen+3], ErrShort},
		{"pointer loop", loop, ErrPointer},
		{"forward pointer", fwd, ErrPointer},
		{"name too long", tooLong, ErrNameTooLong},
		{"opcode 9", newMsg(1, 9<<11, 1, 0, 0, 0).question("a", 1, 1).b, ErrHeader},
		{"class 77", newMsg(1, 0, 1, 0, 0, 0).question("a", 1, 77).b, ErrQuestion},
		{"label type 0x40", append(newMsg(1, 0, 1, 0, 0, 0).b, 0x41, 0, 0, 0, 1, 0, 1), ErrLabel},
		{"huge counts", newMsg(1, 0, 1, 5000, 0, 0).question("a", 1, 1).b, ErrHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			if err := m.Parse(tc.b); !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParsePartialAnswers(t *testing.T) {
	// A response cut inside its second answer (a first IP fragment, or a
	// short snapshot length) keeps what was read.
	m := newMsg(3, flagQR, 1, 2, 0, 0).question("x.example", TypeA, ClassIN)
	m.ptr(12).rr(TypeA, ClassIN, 5, []byte{1, 2, 3, 4})
	m.ptr(12).rr(TypeA, ClassIN, 5, []byte{5, 6, 7, 8})
	var msg Message
	if err := msg.Parse(m.b[:len(m.b)-3]); err != nil {
		t.Fatal(err)
	}
	if !msg.Partial || msg.NumAddrs != 1 {
		t.Errorf("partial %v addrs %d", msg.Partial, msg.NumAddrs)
	}
}

func TestObsoleteTypes(t *testing.T) {
	for typ, want := range map[uint16]bool{TypeA: false, TypeNULL: true, 13: true, TypeTXT: false, TypeSRV: false, 38: true, TypeANY: false, 254: true} {
		if Obsolete(typ) != want {
			t.Errorf("Obsolete(%d) = %v", typ, !want)
		}
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	m := newMsg(7, flagQR, 1, 3, 0, 1).question("www.example.com", TypeA, ClassIN)
	m.ptr(12).rr(TypeCNAME, ClassIN, 300, wireName("web.example.net"))
	m.name("web.example.net").rr(TypeA, ClassIN, 60, []byte{192, 0, 2, 1})
	m.name("web.example.net").rr(TypeAAAA, ClassIN, 60, make([]byte, 16))
	m.name("").rr(TypeOPT, 4096, 0, nil)
	var msg Message
	if n := testing.AllocsPerRun(100, func() { _ = msg.Parse(m.b) }); n != 0 {
		t.Errorf("%v allocations per parse", n)
	}
}

func BenchmarkParseResponse(b *testing.B) {
	m := newMsg(7, flagQR, 1, 3, 0, 1).question("www.example.com", TypeA, ClassIN)
	m.ptr(12).rr(TypeCNAME, ClassIN, 300, wireName("web.example.net"))
	m.name("web.example.net").rr(TypeA, ClassIN, 60, []byte{192, 0, 2, 1})
	m.name("web.example.net").rr(TypeAAAA, ClassIN, 60, make([]byte, 16))
	m.name("").rr(TypeOPT, 4096, 0, nil)
	var msg Message
	b.ReportAllocs()
	b.SetBytes(int64(len(m.b)))
	for b.Loop() {
		if err := msg.Parse(m.b); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(newMsg(0x1234, flagRD, 1, 0, 0, 0).question("www.example.com", TypeA, ClassIN).b)
	m := newMsg(7, flagQR, 1, 2, 0, 1).question("www.example.com", TypeA, ClassIN)
	m.ptr(12).rr(TypeCNAME, ClassIN, 300, (&msgBuilder{}).labelsThenPtr("cdn", 16).b)
	m.labelsThenPtr("cdn", 16).rr(TypeA, ClassIN, 60, []byte{192, 0, 2, 1})
	m.name("").rr(TypeOPT, 4096, 0, nil)
	f.Add(m.b)
	f.Add(newMsg(0, 0x8400, 0, 1, 0, 0).name("host.local").rr(TypeAAAA, 0x8001, 120, make([]byte, 16)).b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var msg Message
		if err := msg.Parse(b); err != nil {
			return
		}
		if msg.NumAddrs > MaxAddrs || msg.Name.Len() > MaxName {
			t.Fatalf("bounds: %d addrs, name %d", msg.NumAddrs, msg.Name.Len())
		}
		for _, a := range msg.Addrs[:msg.NumAddrs] {
			if !a.IsValid() {
				t.Fatal("invalid address kept")
			}
		}
	})
}
