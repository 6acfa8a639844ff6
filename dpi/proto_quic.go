package dpi

import (
	"ips/dpi/quic"
	"ips/dpi/tls"
)

// The QUIC dissector (UDP, any port). A client's first datagram holds an
// Initial packet whose protection keys follow from public values (RFC 9001
// §5.2): the dissector derives them from the Destination Connection ID,
// removes header protection, decrypts, and reassembles the CRYPTO frames
// by offset — across packets and in any order, as post-quantum key shares
// make ClientHellos span two or three Initials — into the pooled buffer it
// borrows for the flow. The ClientHello then gives the SNI (and with it the
// application, QUIC.YouTube), the ALPN and JA4 (prefix "q"). Google QUIC
// up to Q046 sends its CHLO in clear, Q050 and T05x like IETF QUIC.

// quicState is the QUIC dissector's per-flow state.
type quicState struct {
	keys     quic.Keys // client Initial keys, once keyed
	version  uint32
	dcid     [quic.MaxCIDLen]byte
	dcidLen  uint8
	keyed    bool
	initials uint8 // client Initial packets read
	rekeys   uint8 // key derivations (a Retry or a version change needs a new one)
	// buf and plain are borrowed from the engine's stream pool: buf holds
	// the CRYPTO stream (and its bitmap), plain the plaintext of the
	// current packet.
	buf    []byte
	plain  []byte
	crypto quic.Crypto
	hello  bool // the ClientHello (or CHLO) was read
	// waiting: the client's first packets were long headers of a known
	// version but no Initial (0-RTT overtook it).
	waiting bool
}

// QUIC bounds.
const (
	// quicMinInitial: a client's Initial datagram is at least 1200 bytes
	// (RFC 9000 §14.1); smaller ones are not a connection's first packet.
	quicMinInitial = 1200
	// quicMaxInitials bounds the client Initials read for one ClientHello:
	// browsers send one to three, but a client may cut its CRYPTO data
	// into many small frames spread over many packets, and the server
	// reassembles them all.
	quicMaxInitials = 32
	quicMaxRekeys   = 3
)

func dissectQUIC(c *Ctx) Status {
	q := &c.s.quic
	p := c.Payload
	r := &c.Flow.Result
	if r.Master == 0 {
		if c.Dir != ToServer && q.waiting && c.Payloads(ToServer) < 4 {
			return Continue // whatever the server says, the Initial may still come
		}
		if c.Dir != ToServer || len(p) < 7 {
			return Exclude
		}
		v, ok := quicFirstPacket(p)
		if !ok {
			// 0-RTT packets may overtake the Initial they follow: give
			// the Initial a few more packets to arrive.
			if p[0]&0x80 != 0 && quic.Supported(quicVersion(p)) && c.Payloads(ToServer) < 4 {
				q.waiting = true
				return Continue
			}
			return Exclude
		}
		c.Set(ProtoQUIC, 0)
		q.version = v
		if quic.IsGoogleVersion(v) && quic.GoogleVersionNumber(v) <= 46 {
			return quicGoogleClear(c, p, v)
		}
	}
	if c.Dir != ToServer {
		return q.status(c) // only the client's Initials are read
	}
	for len(p) > 0 && p[0]&0x80 != 0 {
		h, err := quic.ParseLongHeader(p)
		if err != nil {
			break
		}
		if h.Type == quic.TypeInitial {
			if done := quicInitial(c, q, p[:h.PacketLen], &h); done {
				return Done
			}
		}
		p = p[h.PacketLen:]
	}
	return q.status(c)
}

// quicFirstPacket recognises the first datagram of a connection: a long
// header Initial of a version this engine can read (or a gQUIC public
// header with a version).
func quicFirstPacket(p []byte) (uint32, bool) {
	if len(p) < quicMinInitial {
		return 0, false
	}
	if p[0]&0x80 == 0 {
		// gQUIC public header (Q043 and older): version flag and 8-byte
		// connection ID, then the version.
		if p[0]&0x09 != 0x09 || p[0]&0xc2 != 0 || len(p) < 13 {
			return 0, false
		}
		v := uint32(p[9])<<24 | uint32(p[10])<<16 | uint32(p[11])<<8 | uint32(p[12])
		return v, quic.GoogleVersionNumber(v) >= 24 && quic.GoogleVersionNumber(v) < 46
	}
	v := quicVersion(p)
	if quic.GoogleVersionNumber(v) == 46 {
		return v, p[0]&0x30 == 0 && len(p) > 5 && p[5] == 0x50 // Initial, 8-byte CID
	}
	if !quic.Supported(v) {
		return 0, false
	}
	h, err := quic.ParseLongHeader(p)
	return v, err == nil && h.Type == quic.TypeInitial && len(h.DCID) >= 8
}

// quicVersion reads the version of a long header (len(p) ≥ 5).
func quicVersion(p []byte) uint32 {
	return uint32(p[1])<<24 | uint32(p[2])<<16 | uint32(p[3])<<8 | uint32(p[4])
}

// status: the flow is QUIC; wait for more Initials while the ClientHello
// is incomplete.
func (q *quicState) status(c *Ctx) Status {
	if q.initials >= quicMaxInitials || q.rekeys > quicMaxRekeys || q.crypto.Overflow {
		if q.keyed && !q.hello {
			c.Uninspectable() // a ClientHello too large or too scattered to read
		}
		return Done
	}
	c.Pending(FieldApp | FieldHostname | FieldMeta | FieldRisks)
	if c.Dir == ToServer {
		c.Incomplete() // more Initials to come: they do not count against the budget
	}
	return More
}

// quicInitial reads one client Initial packet; it reports whether the
// flow is done.
func quicInitial(c *Ctx, q *quicState, pkt []byte, h *quic.Header) bool {
	if q.initials >= quicMaxInitials {
		return true
	}
	q.initials++
	if !quic.Supported(h.Version) || quic.IsGoogleVersion(h.Version) && quic.GoogleVersionNumber(h.Version) <= 46 {
		return true
	}
	if !q.keyed || h.Version != q.version {
		if !q.deriveKeys(h.Version, h.DCID) {
			return true
		}
	}
	if q.buf == nil {
		if q.buf = c.e.quicBuffer(); q.buf == nil {
			c.Uninspectable() // the pool is exhausted: QUIC, without details
			return true
		}
		q.crypto.Reset(q.buf[:0])
	}
	if q.plain == nil {
		if q.plain = c.e.quicBuffer(); q.plain == nil {
			c.Uninspectable()
			return true
		}
	}
	scratch := q.plain
	if h.PacketLen > len(scratch) {
		c.Uninspectable() // an Initial larger than the stream buffer
		return true
	}
	payload, ok := q.open(scratch, pkt, h)
	if !ok && string(h.DCID) != string(q.dcid[:q.dcidLen]) {
		// After a Retry the client derives new keys from the DCID the
		// server gave it (RFC 9001 §5.2).
		if !q.deriveKeys(h.Version, h.DCID) {
			return true
		}
		payload, ok = q.open(scratch, pkt, h)
	}
	if !ok {
		return false
	}
	if quic.CarriesTLS(h.Version) && h.Version>>24 != 'T' {
		fr := quic.NewFrameReader(payload)
		for f, ok := fr.Next(); ok; f, ok = fr.Next() {
			if f.Type == quic.FrameCrypto {
				q.crypto.Add(f.Offset, f.Data)
			}
		}
	} else if off, data, ok := quic.GoogleCryptoFrame(payload); ok {
		q.crypto.Add(off, data)
	}
	return quicHandshake(c, q, h.Version)
}

// open decrypts a client Initial and checks that the plaintext reads as
// the frames of an Initial. Open does not verify the AEAD tag (the keys
// are public, so a tag proves nothing): packets protected with other keys
// — those sent after a Retry, which changes them — or damaged ones show
// as frames that do not parse, and none of their CRYPTO data is kept.
func (q *quicState) open(dst, pkt []byte, h *quic.Header) ([]byte, bool) {
	payload, _, err := q.keys.Open(dst, pkt, h)
	if err != nil {
		return nil, false
	}
	if quic.CarriesTLS(h.Version) && h.Version>>24 != 'T' {
		fr := quic.NewFrameReader(payload)
		for _, ok := fr.Next(); ok; _, ok = fr.Next() {
		}
		return payload, fr.Err() == nil
	}
	_, _, ok := quic.GoogleCryptoFrame(payload)
	return payload, ok
}

func (q *quicState) deriveKeys(v uint32, dcid []byte) bool {
	if q.rekeys++; q.rekeys > quicMaxRekeys {
		return false
	}
	if q.keys.DeriveClientInitial(v, dcid) != nil {
		return false // keys unchanged
	}
	q.keyed, q.version = true, v
	q.dcidLen = uint8(copy(q.dcid[:], dcid))
	return true
}

// quicHandshake parses the reassembled handshake message once it is
// complete; it reports whether the flow is done.
func quicHandshake(c *Ctx, q *quicState, v uint32) bool {
	b := q.crypto.Contiguous()
	if v == quic.VersionQ050 {
		var chlo quic.CHLO
		if len(b) >= 8 && quic.ParseCHLO(b, &chlo) {
			q.hello = true
			applyCHLO(c, &chlo)
			return true
		}
		return false
	}
	h, ok := tls.ParseHandshake(b)
	if !ok {
		return false
	}
	if h.Type != tls.TypeClientHello {
		return true
	}
	if tls.HandshakeHeaderLen+h.Length > len(b) {
		if tls.HandshakeHeaderLen+h.Length > q.crypto.Cap() {
			c.Uninspectable() // it will never fit
			return true
		}
		return false
	}
	q.hello = true
	var ch tls.ClientHello
	if tls.ParseClientHello(b[tls.HandshakeHeaderLen:tls.HandshakeHeaderLen+h.Length], false, &ch) != nil {
		return true
	}
	var t tlsState
	applyClientHello(c, &t, &ch, ProtoQUIC, tls.JA4QUIC)
	// The ServerHello is encrypted with keys we do not follow: QUIC always
	// negotiates TLS 1.3 (RFC 9001 §4.2).
	c.Flow.Result.TLSVersion = tls.VersionTLS13
	return true
}

// quicGoogleClear reads the CHLO of a gQUIC packet sent in clear.
func quicGoogleClear(c *Ctx, p []byte, v uint32) Status {
	data, ok := quic.GoogleCryptoData(p, v)
	var chlo quic.CHLO
	if ok && quic.ParseCHLO(data, &chlo) {
		applyCHLO(c, &chlo)
	}
	return Done
}

func applyCHLO(c *Ctx, chlo *quic.CHLO) {
	if len(chlo.SNI) > 0 {
		c.SetHostname(chlo.SNI)
	} else {
		c.AddRisk(RiskTLSMissingSNI)
	}
	if len(chlo.UAID) > 0 {
		c.Flow.Result.UserAgent = c.Intern(chlo.UAID)
	}
}

// quicBuffer borrows a buffer from the engine's stream pool (the TCP
// reassembly buffers, idle on a UDP flow).
func (e *Engine) quicBuffer() []byte {
	var b []byte
	if n := len(e.streamFree); n > 0 {
		b = e.streamFree[n-1]
		e.streamFree = e.streamFree[:n-1]
	} else if e.streamsOut < e.cfg.MaxStreams {
		b = make([]byte, 0, e.cfg.StreamBytes)
	} else {
		e.stats.StreamsExhausted++
		return nil
	}
	e.streamsOut++
	return b[:cap(b)]
}

// quicRelease returns pooled QUIC buffers held by s (QUIC's, or DTLS's
// reassembly, which shares them).
func (e *Engine) quicRelease(s *scratch) {
	q := &s.quic
	for _, b := range [2]*[]byte{&q.buf, &q.plain} {
		if *b != nil {
			e.streamFree = append(e.streamFree, (*b)[:0])
			e.streamsOut--
			*b = nil
		}
	}
	s.quic.keyed = false
}
