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
// buffer, whatever the order the frames come in, however many holes they
// leave and however they overlap. Where frames overlap, the bytes that
// arrived first stand (as a QUIC stack keeps the data it already has), so
// a later frame cannot rewrite what was read. A bitmap of the bytes held
// lives at the end of the buffer: one bit per byte, so a buffer of B bytes
// holds a stream of 8B/9. Data beyond it is dropped (Overflow is set).
type Crypto struct {
	buf      []byte // the stream
	have     []byte // bit i: byte i of the stream is held
	contig   int    // bytes held without a hole from offset 0
	received int
	Overflow bool
}

// MaxCryptoBuffer bounds the buffer Reset takes.
const MaxCryptoBuffer = 1 << 16

// Reset starts over with buf (its capacity, up to MaxCryptoBuffer, holds
// the stream and its bitmap).
func (c *Crypto) Reset(buf []byte) {
	buf = buf[:cap(buf)]
	if len(buf) > MaxCryptoBuffer {
		buf = buf[:MaxCryptoBuffer]
	}
	n := len(buf) * 8 / 9 &^ 7
	have := buf[n : n+n/8]
	clear(have)
	*c = Crypto{buf: buf[:n], have: have}
}

// Cap is the longest stream the buffer holds.
func (c *Crypto) Cap() int { return len(c.buf) }

// Add copies CRYPTO data at offset off into the bytes not yet held.
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
	o := int(off)
	for i := 0; i < len(data); {
		p := o + i
		// Whole bytes of the bitmap at once where the run allows.
		if p&7 == 0 && len(data)-i >= 8 {
			switch c.have[p>>3] {
			case 0:
				copy(c.buf[p:p+8], data[i:i+8])
				c.have[p>>3] = 0xff
				c.received += 8
				i += 8
				continue
			case 0xff:
				i += 8
				continue
			}
		}
		if bit := byte(1) << (p & 7); c.have[p>>3]&bit == 0 {
			c.buf[p] = data[i]
			c.have[p>>3] |= bit
			c.received++
		}
		i++
	}
}

// Contiguous returns the stream bytes received without a hole from
// offset 0.
func (c *Crypto) Contiguous() []byte {
	for c.contig < len(c.buf) {
		if c.contig&7 == 0 && c.have[c.contig>>3] == 0xff {
			c.contig += 8
			continue
		}
		if c.have[c.contig>>3]&(1<<(c.contig&7)) == 0 {
			break
		}
		c.contig++
	}
	if c.contig == 0 {
		return nil
	}
	return c.buf[:c.contig]
}

// Received is the number of distinct stream bytes held.
func (c *Crypto) Received() int { return c.received }
