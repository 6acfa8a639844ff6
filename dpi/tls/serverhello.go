package tls

// ServerHello is what the parsers keep of a ServerHello (RFC 8446 §4.1.3,
// RFC 5246 §7.4.1.3).
type ServerHello struct {
	Version uint16 // legacy_version
	// Selected is the negotiated version: supported_versions when present
	// (TLS 1.3), else legacy_version.
	Selected    uint16
	Cipher      uint16
	Compression uint8

	Extensions    [MaxExtensions]uint16
	NumExtensions int

	PointFormats    [MaxPointFmts]uint8
	NumPointFormats int

	// ALPN is the protocol the server selected (RFC 7301 §3.1).
	ALPN []byte
	// ALPNBad: the ALPN extension did not hold exactly one protocol.
	ALPNBad bool
	// HelloRetryRequest: the random is the HRR magic (RFC 8446 §4.1.3).
	HelloRetryRequest bool
	BadExtLen         bool
	Truncated         bool
}

// helloRetryRandom is SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
var helloRetryRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// ParseServerHello parses the body of a ServerHello handshake message
// (after its 4-byte header; DTLS uses the same body layout).
func ParseServerHello(body []byte, s *ServerHello) error {
	*s = ServerHello{}
	c := cursor{b: body}
	s.Version = c.u16()
	random := c.take(32)
	c.vec8() // legacy_session_id_echo
	s.Cipher = c.u16()
	s.Compression = c.u8()
	if c.bad {
		return ErrShort
	}
	s.Selected = s.Version
	s.HelloRetryRequest = len(random) == 32 && [32]byte(random) == helloRetryRandom
	if c.empty() {
		return nil
	}
	exts := cursor{b: c.vec16()}
	if c.bad {
		return ErrShort
	}
	for !exts.empty() {
		typ := exts.u16()
		n := int(exts.u16())
		if exts.bad {
			return ErrMalformed
		}
		if n > len(exts.b) {
			s.BadExtLen = true
			s.addExtension(typ)
			return nil
		}
		data := exts.take(n)
		s.addExtension(typ)
		d := cursor{b: data}
		switch typ {
		case ExtSupportedVersions:
			if v := d.u16(); !d.bad {
				s.Selected = v
			}
		case ExtALPN:
			list := cursor{b: d.vec16()}
			p := list.vec8()
			if d.bad || list.bad || !list.empty() || len(p) == 0 {
				s.ALPNBad = true
			}
			if len(p) > 0 {
				s.ALPN = p
			}
		case ExtECPointFormats:
			for _, f := range d.vec8() {
				if s.NumPointFormats == MaxPointFmts {
					s.Truncated = true
					break
				}
				s.PointFormats[s.NumPointFormats] = f
				s.NumPointFormats++
			}
		}
	}
	return nil
}

func (s *ServerHello) addExtension(typ uint16) {
	if s.NumExtensions == MaxExtensions {
		s.Truncated = true
		return
	}
	s.Extensions[s.NumExtensions] = typ
	s.NumExtensions++
}
