package tls

// Bounds of the fixed arrays in ClientHello. Real clients stay far below
// them (Chrome: 16 ciphers, 18 extensions); a hello that overflows one is
// still parsed, with Truncated set.
const (
	MaxCiphers    = 128
	MaxExtensions = 64
	MaxSigAlgs    = 64
	MaxGroups     = 32
	MaxVersions   = 16
	MaxPointFmts  = 8
)

// ClientHello is what the parsers keep of a ClientHello (RFC 8446 §4.1.2,
// RFC 5246 §7.4.1.2, RFC 6347 §4.2.1 for DTLS). Lists keep wire order and
// leave out GREASE values (RFC 8701), except SigAlgs, which keeps them as
// JA4 does. Slices point into the parsed message.
type ClientHello struct {
	Version      uint16 // legacy_version
	SessionIDLen uint8

	Ciphers    [MaxCiphers]uint16
	NumCiphers int

	Extensions    [MaxExtensions]uint16
	NumExtensions int

	SigAlgs    [MaxSigAlgs]uint16
	NumSigAlgs int

	Groups    [MaxGroups]uint16
	NumGroups int

	PointFormats    [MaxPointFmts]uint8
	NumPointFormats int

	Versions    [MaxVersions]uint16 // supported_versions, GREASE removed
	NumVersions int

	// SNI is the first host_name of the server_name extension.
	SNI    []byte
	HasSNI bool
	// ALPN is the raw ProtocolNameList (RFC 7301 §3.1): use ALPNProtocols
	// or the helpers to read it.
	ALPN    []byte
	HasALPN bool

	PaddingLen int
	ECH        bool // encrypted_client_hello (0xfe0d)
	// ECHOuter: the ECH extension is a well-formed outer ECHClientHello
	// (type 0: cipher suite, config_id, enc, a non-empty payload; RFC 9849
	// §5). Real ECH and GREASE ECH both are; ECHConfigID and
	// ECHPayloadLen describe it.
	ECHOuter       bool
	ECHConfigID    uint8
	ECHPayloadLen  int
	ESNI           bool // draft encrypted_server_name (0xffce)
	EncryptThenMAC bool // present and empty, as RFC 7366 wants
	UseSRTP        bool // DTLS-SRTP: a WebRTC media key exchange
	QUICParams     bool
	GREASE         bool // some GREASE value was seen
	// BadExtLen: an extension's length ran past the end of the block.
	BadExtLen bool
	// Truncated: a list overflowed its array (the hello is still usable).
	Truncated bool
}

// ParseClientHello parses the body of a ClientHello handshake message
// (after the 4-byte header, or the 12-byte DTLS header when dtls is set)
// into h. The body must be complete.
func ParseClientHello(body []byte, dtls bool, h *ClientHello) error {
	*h = ClientHello{}
	c := cursor{b: body}
	h.Version = c.u16()
	c.take(32) // random
	sid := c.vec8()
	h.SessionIDLen = uint8(len(sid))
	if dtls {
		c.vec8() // cookie
	}
	ciphers := c.vec16()
	comp := c.vec8()
	if c.bad {
		return ErrShort
	}
	if len(ciphers)%2 != 0 || len(comp) == 0 {
		return ErrMalformed
	}
	for i := 0; i+1 < len(ciphers); i += 2 {
		v := uint16(ciphers[i])<<8 | uint16(ciphers[i+1])
		if IsGREASE(v) {
			h.GREASE = true
			continue
		}
		if h.NumCiphers == MaxCiphers {
			h.Truncated = true
			continue
		}
		h.Ciphers[h.NumCiphers] = v
		h.NumCiphers++
	}
	if c.empty() {
		return nil // SSL 3.0 / TLS 1.0 hellos may end here (RFC 5246 §7.4.1.2)
	}
	exts := c.vec16()
	if c.bad {
		return ErrShort
	}
	return h.parseExtensions(exts)
}

func (h *ClientHello) parseExtensions(b []byte) error {
	c := cursor{b: b}
	for !c.empty() {
		typ := c.u16()
		n := int(c.u16())
		if c.bad {
			return ErrMalformed
		}
		if n > len(c.b) {
			// The last extension runs past the block: count it, as nDPI
			// does, and stop.
			h.BadExtLen = true
			h.addExtension(typ)
			h.ECH = h.ECH || typ == ExtECH // present, if unreadable
			return nil
		}
		data := c.take(n)
		h.addExtension(typ)
		h.extension(typ, data)
	}
	return nil
}

// fill16 appends the big-endian 16-bit values of l to dst[:n], dropping
// GREASE values when asked, and returns the new count; values beyond the
// array's room mark the hello truncated.
func (h *ClientHello) fill16(dst []uint16, n int, l []byte, skipGREASE bool) int {
	for i := 0; i+1 < len(l); i += 2 {
		v := uint16(l[i])<<8 | uint16(l[i+1])
		if skipGREASE && IsGREASE(v) {
			continue
		}
		if n == len(dst) {
			h.Truncated = true
			break
		}
		dst[n] = v
		n++
	}
	return n
}

func (h *ClientHello) addExtension(typ uint16) {
	if IsGREASE(typ) {
		h.GREASE = true
		return
	}
	if h.NumExtensions == MaxExtensions {
		h.Truncated = true
		return
	}
	h.Extensions[h.NumExtensions] = typ
	h.NumExtensions++
}

// extension reads the contents the parsers care about; a malformed body
// only loses that extension's details.
func (h *ClientHello) extension(typ uint16, data []byte) {
	c := cursor{b: data}
	switch typ {
	case ExtServerName: // RFC 6066 §3
		list := cursor{b: c.vec16()}
		for !list.empty() && !list.bad {
			nameType := list.u8()
			name := list.vec16()
			if !list.bad && nameType == 0 && !h.HasSNI {
				h.SNI, h.HasSNI = name, true
			}
		}
	case ExtSupportedGroups: // RFC 8446 §4.2.7
		h.NumGroups = h.fill16(h.Groups[:], h.NumGroups, c.vec16(), true)
	case ExtECPointFormats: // RFC 8422 §5.1.2
		for _, f := range c.vec8() {
			if h.NumPointFormats == MaxPointFmts {
				h.Truncated = true
				break
			}
			h.PointFormats[h.NumPointFormats] = f
			h.NumPointFormats++
		}
	case ExtSignatureAlgorithms: // RFC 8446 §4.2.3
		// Signature algorithms keep GREASE values: JA4 hashes them in order.
		h.NumSigAlgs = h.fill16(h.SigAlgs[:], h.NumSigAlgs, c.vec16(), false)
	case ExtALPN: // RFC 7301 §3.1
		if l := c.vec16(); !c.bad {
			h.ALPN, h.HasALPN = l, true
		}
	case ExtSupportedVersions: // RFC 8446 §4.2.1
		h.NumVersions = h.fill16(h.Versions[:], h.NumVersions, c.vec8(), true)
	case ExtPadding:
		h.PaddingLen = len(data)
	case ExtEncryptThenMAC:
		h.EncryptThenMAC = len(data) == 0
	case ExtUseSRTP:
		h.UseSRTP = true
	case ExtECH:
		h.ECH = true
		if c.u8() == 0 { // ECHClientHelloType outer
			c.u16() // HpkeKdfId
			c.u16() // HpkeAeadId
			id := c.u8()
			c.vec16() // enc
			payload := c.vec16()
			if !c.bad && c.empty() && len(payload) > 0 {
				h.ECHOuter, h.ECHConfigID, h.ECHPayloadLen = true, id, len(payload)
			}
		}
	case ExtESNI:
		h.ESNI = true
	case ExtQUICParams, ExtQUICParamsDraft:
		h.QUICParams = true
	}
}

// HasExtension reports whether the hello carried extension typ.
func (h *ClientHello) HasExtension(typ uint16) bool {
	for _, e := range h.Extensions[:h.NumExtensions] {
		if e == typ {
			return true
		}
	}
	return false
}

// MaxVersion is the highest version offered: the larger of legacy_version
// and any supported_versions entry (GREASE excluded).
func (h *ClientHello) MaxVersion() uint16 {
	v := h.Version
	for _, s := range h.Versions[:h.NumVersions] {
		if s > v {
			v = s
		}
	}
	return v
}

// OffersOnly13 reports whether every supported version offered is TLS 1.3
// (or a draft of it), so the server's certificate will be encrypted.
func (h *ClientHello) OffersOnly13() bool {
	if h.NumVersions == 0 {
		return false
	}
	for _, v := range h.Versions[:h.NumVersions] {
		if v < VersionTLS13 || v == VersionDTLS12 || v == VersionDTLS10 {
			return false
		}
	}
	return true
}

// ALPNIter walks a ProtocolNameList.
type ALPNIter struct{ b []byte }

// ALPNProtocols returns an iterator over the offered protocols.
func (h *ClientHello) ALPNProtocols() ALPNIter { return ALPNIter{h.ALPN} }

// NewALPNIter returns an iterator over a raw ProtocolNameList.
func NewALPNIter(list []byte) ALPNIter { return ALPNIter{list} }

// Next returns the next protocol name, or false at the end (or at a
// malformed entry).
func (it *ALPNIter) Next() ([]byte, bool) {
	if len(it.b) == 0 {
		return nil, false
	}
	n := int(it.b[0])
	if n == 0 || 1+n > len(it.b) {
		it.b = nil
		return nil, false
	}
	p := it.b[1 : 1+n]
	it.b = it.b[1+n:]
	return p, true
}

// AppendALPNList appends the offered protocols joined by sep, stopping
// before the result would exceed max bytes.
func AppendALPNList(dst, list []byte, sep byte, max int) []byte {
	it := ALPNIter{list}
	start := len(dst)
	for {
		p, ok := it.Next()
		if !ok {
			return dst
		}
		extra := len(p)
		if len(dst) > start {
			extra++
		}
		if len(dst)-start+extra > max {
			return dst
		}
		if len(dst) > start {
			dst = append(dst, sep)
		}
		dst = append(dst, p...)
	}
}
