package quic

// Frame types an Initial packet may carry (RFC 9000 §17.2.2, §19).
const (
	FramePadding        = 0x00
	FramePing           = 0x01
	FrameACK            = 0x02
	FrameACKECN         = 0x03
	FrameCrypto         = 0x06
	FrameConnClose      = 0x1c
	FrameConnCloseApp   = 0x1d
	maxACKRanges        = 1 << 10
	maxFramesPerPayload = 1 << 12
)

// Frame is one frame of a decrypted payload. Data points into the payload.
type Frame struct {
	Type   uint64
	Offset uint64 // CRYPTO: stream offset
	Data   []byte // CRYPTO: data; CONNECTION_CLOSE: reason phrase
	Code   uint64 // CONNECTION_CLOSE: error code
}

// FrameReader walks the frames of a decrypted Initial or Handshake
// payload. Runs of PADDING are skipped; a frame type not allowed in those
// packets stops the walk with ErrFrame.
type FrameReader struct {
	b   []byte
	n   int
	err error
}

// NewFrameReader returns a reader over payload.
func NewFrameReader(payload []byte) FrameReader { return FrameReader{b: payload} }

// Err is the error that stopped the walk, if any.
func (r *FrameReader) Err() error { return r.err }

func (r *FrameReader) fail() (Frame, bool) {
	r.b, r.err = nil, ErrFrame
	return Frame{}, false
}

func (r *FrameReader) varint() (uint64, bool) {
	v, n := ReadVarint(r.b)
	if n == 0 {
		return 0, false
	}
	r.b = r.b[n:]
	return v, true
}

// Next returns the next frame, or false at the end or on error.
func (r *FrameReader) Next() (Frame, bool) {
	for len(r.b) > 0 && r.b[0] == FramePadding {
		r.b = r.b[1:]
	}
	if len(r.b) == 0 {
		return Frame{}, false
	}
	if r.n++; r.n > maxFramesPerPayload {
		return r.fail()
	}
	typ, ok := r.varint()
	if !ok {
		return r.fail()
	}
	f := Frame{Type: typ}
	switch typ {
	case FramePing:
	case FrameACK, FrameACKECN:
		// Largest, delay, range count, first range, then the ranges.
		var count uint64
		for i := 0; i < 4; i++ {
			v, ok := r.varint()
			if !ok {
				return r.fail()
			}
			if i == 2 {
				count = v
			}
		}
		if count > maxACKRanges {
			return r.fail()
		}
		n := 2 * count
		if typ == FrameACKECN {
			n += 3
		}
		for i := uint64(0); i < n; i++ {
			if _, ok := r.varint(); !ok {
				return r.fail()
			}
		}
	case FrameCrypto:
		off, ok1 := r.varint()
		l, ok2 := r.varint()
		if !ok1 || !ok2 || l > uint64(len(r.b)) || off+l < off {
			return r.fail()
		}
		f.Offset, f.Data = off, r.b[:l:l]
		r.b = r.b[l:]
	case FrameConnClose, FrameConnCloseApp:
		code, ok := r.varint()
		if !ok {
			return r.fail()
		}
		if typ == FrameConnClose {
			if _, ok := r.varint(); !ok { // frame type
				return r.fail()
			}
		}
		l, ok := r.varint()
		if !ok || l > uint64(len(r.b)) {
			return r.fail()
		}
		f.Code, f.Data = code, r.b[:l:l]
		r.b = r.b[l:]
	default:
		return r.fail()
	}
	return f, true
}

// Crypto reassembles a CRYPTO stream by offset into a caller-provided
// buffer, whatever the order the frames come in and however they overlap.
// Data beyond the buffer is dropped (Overflow is set).
type Crypto struct {
	buf      []byte
	ranges   [maxRanges]span // received spans, sorted, disjoint
	nRanges  int
	Overflow bool
}

// span is a received byte range; uint16 keeps the state small (the buffer
// is at most 64 KiB).
type span struct{ lo, hi uint16 }

// MaxCryptoBuffer bounds the reassembly buffer.
const MaxCryptoBuffer = 1<<16 - 1

const maxRanges = 16

// Reset starts over with buf (its capacity, up to MaxCryptoBuffer, bounds
// the stream).
func (c *Crypto) Reset(buf []byte) {
	buf = buf[:cap(buf)]
	if len(buf) > MaxCryptoBuffer {
		buf = buf[:MaxCryptoBuffer]
	}
	*c = Crypto{buf: buf}
}

// Add copies CRYPTO data at offset off.
func (c *Crypto) Add(off uint64, data []byte) {
	if off >= uint64(len(c.buf)) {
		if len(data) > 0 {
			c.Overflow = true
		}
		return
	}
	if end := off + uint64(len(data)); end > uint64(len(c.buf)) {
		data = data[:uint64(len(c.buf))-off]
		c.Overflow = true
	}
	if len(data) == 0 {
		return
	}
	copy(c.buf[off:], data)
	c.insert(span{uint16(off), uint16(off) + uint16(len(data))})
}

// insert merges s into the sorted span list.
func (c *Crypto) insert(s span) {
	var merged [maxRanges + 1]span
	m := 0
	placed := false
	for _, r := range c.ranges[:c.nRanges] {
		if r.hi < s.lo {
			merged[m] = r
			m++
			continue
		}
		if s.hi < r.lo {
			if !placed {
				merged[m] = s
				m++
				placed = true
			}
			merged[m] = r
			m++
			continue
		}
		// Overlapping or touching: absorb r into s.
		s.lo, s.hi = min(s.lo, r.lo), max(s.hi, r.hi)
	}
	if !placed {
		merged[m] = s
		m++
	}
	if m > maxRanges {
		// Too fragmented: keep the spans nearest the start.
		m = maxRanges
		c.Overflow = true
	}
	c.nRanges = copy(c.ranges[:], merged[:m])
}

// Contiguous returns the stream bytes received without a hole from
// offset 0.
func (c *Crypto) Contiguous() []byte {
	if c.nRanges == 0 || c.ranges[0].lo != 0 {
		return nil
	}
	return c.buf[:c.ranges[0].hi]
}

// Received is the number of distinct stream bytes held.
func (c *Crypto) Received() int {
	n := 0
	for _, r := range c.ranges[:c.nRanges] {
		n += int(r.hi - r.lo)
	}
	return n
}
