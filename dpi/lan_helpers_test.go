package dpi

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

// hx decodes hex written with optional spaces; tests write packets as
// the specifications lay them out, field by field.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.ReplaceAll(s, " ", ""), "\n", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// cat concatenates byte slices and strings.
func lcat(parts ...any) []byte {
	var out []byte
	for _, p := range parts {
		switch v := p.(type) {
		case []byte:
			out = append(out, v...)
		case string:
			out = append(out, v...)
		case byte:
			out = append(out, v)
		case int:
			out = append(out, byte(v))
		default:
			panic("cat: bad part")
		}
	}
	return out
}

func lu16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func lu32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func l16(v int) []byte  { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
func l32(v int) []byte  { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }
func l64(v int) []byte  { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

// ber wraps contents in a BER element with a definite length.
func ber(tag byte, parts ...any) []byte {
	c := lcat(parts...)
	out := []byte{tag}
	switch n := len(c); {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, c...)
}

// nbName is a NetBIOS name in first-level encoding (RFC 1001 §14.1):
// padded to 15 characters with spaces, a suffix byte, two letters per byte.
func nbName(name string, suffix byte) []byte {
	raw := []byte(name + strings.Repeat(" ", 15-len(name)))
	raw = append(raw, suffix)
	out := []byte{32}
	for _, c := range raw {
		out = append(out, 'A'+c>>4, 'A'+c&0x0f)
	}
	return out
}

// lanPkt is one payload of a test conversation.
type lanPkt struct {
	dir Dir
	b   []byte
}

func cs(b []byte) lanPkt { return lanPkt{ToServer, b} }
func sc(b []byte) lanPkt { return lanPkt{ToClient, b} }

// lanCase drives one flow through an engine and states what the engine
// must conclude.
type lanCase struct {
	name     string
	proto    uint8
	cli, srv string
	pkts     []lanPkt
	want     string   // application name; "" with notLAN
	host     string   // expected hostname, when set
	risks    []RiskID // risks that must be present
	dpi      int      // expected DPI packets, when non-zero
	notLAN   bool     // must not be classified by DPI as a protocol of this family
	check    func(t *testing.T, r *Result)
	mid      bool // TCP: picked up mid-stream, no handshake
}

func (tc *lanCase) run(t *testing.T) Result {
	t.Helper()
	s := newSim(t, tc.proto, tc.cli, tc.srv)
	// Keep a copy of the metadata: the engine recycles it after OnEnd.
	s.e = NewEngine(Config{OnEnd: func(f *Flow, _ EndReason) {
		r := f.Result
		if r.Meta != nil {
			m := *r.Meta
			r.Meta = &m
		}
		s.ended = append(s.ended, r)
	}})
	if tc.proto == IPProtoTCP && !tc.mid {
		s.handshake()
	}
	for _, p := range tc.pkts {
		s.send(p.dir, p.b)
	}
	s.e.Flush()
	if len(s.ended) != 1 {
		t.Fatalf("%d flows ended, want 1", len(s.ended))
	}
	return s.ended[0]
}

// lanFamily reports whether p is a protocol some dissector of this family
// names.
func lanFamily(r *Result) bool {
	for _, d := range lanDissectors {
		if r.AppName() == d.name {
			return true
		}
	}
	return r.Confidence == ConfDPI
}
