package dpi

import (
	"ips/dpi/tls"
)

// The TLS dissector (TCP, any port). It recognises the handshake by its
// record header, classifies the flow as soon as a ClientHello (or, for a
// flow seen from the server side only, a ServerHello) is parsed, then keeps
// reading the server's flight while it is in clear: the ServerHello gives
// the version, the cipher and JA3S; the Certificate (TLS ≤ 1.2) gives the
// issuer, subject, validity, names and SHA-1 of the leaf certificate. It
// stops as soon as nothing more is visible: after the ServerHello of TLS
// 1.3, after the leaf certificate (without waiting for the rest of the
// chain), at the server's ChangeCipherSpec of a resumed session.
//
// Records split over segments and handshake messages split over records
// are read from the engine's per-direction stream buffer. Handshake bytes
// are compacted in place at the start of that buffer (record headers
// removed) so that every message is contiguous; the raw bytes not yet read
// always lie after the compacted ones, so the engine's appends never
// collide with it.

// tlsDir is the reading state of one direction.
type tlsDir struct {
	buffered bool  // reading from the stream buffer
	failed   bool  // the stream is not (or no longer) readable TLS
	ccs      bool  // ChangeCipherSpec seen: what follows is encrypted
	appData  bool  // application data seen
	recType  uint8 // content type of the record being read
	raw      int32 // stream offset of the next unread byte
	recLeft  int32 // bytes of the current record body not yet read
	hsLen    int32 // compacted handshake bytes at the start of the buffer
	parsed   int32 // compacted bytes already consumed as whole messages
}

// tlsState is the TLS dissector's per-flow state (also used by DTLS).
type tlsState struct {
	dir         [2]tlsDir
	seen        bool // some record looked like TLS
	clientHello bool
	serverHello bool
	certDone    bool
	tls13       bool // the server chose TLS 1.3: nothing more in clear
	noCert      bool // the server's flight went on without a certificate
	done        bool
	chDir       Dir  // direction the ClientHello came from
	webrtc      bool // DTLS-SRTP after STUN: no SNI, self-signed certificates are normal
	viaSTUN     bool // DTLS met after STUN on the same flow (WebRTC)
	torSNI      bool // the SNI has the shape of Tor's made-up names
	alpnSeen    bool
}

// Server name shapes and risk thresholds, as nDPI uses them.
const (
	// certValidityLimit: certificates issued after 1 September 2020 may
	// not be valid for more than 398 days (CA/Browser Forum).
	certValidityFrom  = 1598918400
	certValidityLimit = 398 * 86400
	// certExpiryWarning: a certificate this close to expiry is flagged.
	certExpiryWarning = 30 * 86400
)

func dissectTLS(c *Ctx) Status {
	t := &c.s.tls
	d := &t.dir[c.Dir]
	if !t.seen {
		// First payload of the flow: TLS or not? The first bytes may come
		// one at a time (a ClientHello split after its first byte) and
		// the first handshake header may itself be spread over several
		// tiny records: read what the stream holds so far.
		b := c.Stream()
		start, partial := tlsHandshakeStart(b)
		if partial {
			if c.Buffer() { // (keeps a buffer the engine started for the head)
				c.Incomplete()
				return Continue
			}
			c.Uninspectable() // no buffer left to wait with
			return Exclude
		}
		if !start {
			r, ok := tls.ParseRecord(b)
			if !ok || !plausibleFirstRecord(r, b) {
				// A flow picked up mid-stream may start inside a record:
				// give it a few segments to show a record boundary.
				if c.L4() == IPProtoTCP && c.Flow.flags&flowSynSeen == 0 && c.Payloads(c.Dir) < 4 {
					return Continue
				}
				return Exclude
			}
		}
		t.seen = true
		t.chDir = c.Dir
		if c.Buffering() && c.Buffer() {
			// The stream so far is buffered from its start (by this
			// dissector, or by the engine for a head it gathered, which
			// Buffer makes this dissector's).
			d.buffered = true
		}
	}
	if d.failed {
		return t.status(c)
	}
	if d.buffered && !c.Buffering() {
		// The engine dropped the stream (a missed segment): stop here.
		d.failed = true
		t.lost(c, d)
		return t.status(c)
	}
	if !d.buffered {
		if !t.readDirect(c, d) {
			if !c.Buffer() {
				// Cannot reassemble: classify on the record header alone.
				d.failed = true
				t.lost(c, d)
				if !t.clientHello && !t.serverHello {
					c.Set(tlsMaster(c), 0)
					t.done = true
				}
				return t.status(c)
			}
			d.buffered = true
		}
	}
	if d.buffered {
		t.readBuffered(c, d)
	}
	return t.status(c)
}

// tlsHandshakeStart reports whether b starts a TLS handshake: handshake
// records (as many as it takes: RFC 8446 §5.1 lets a sender cut a message
// into records of any size, down to one byte) whose first four body bytes
// are the header of a ClientHello or ServerHello of a plausible length.
// partial: b is too short to tell but could still be one (a record
// header cut short, or fewer than four handshake bytes so far).
func tlsHandshakeStart(b []byte) (start, partial bool) {
	var hdr [tls.HandshakeHeaderLen]byte
	got := 0
	for got < len(hdr) {
		if len(b) == 0 {
			return false, true
		}
		if b[0] != tls.RecordHandshake || len(b) > 1 && b[1] != 3 || len(b) > 2 && b[2] > 4 {
			return false, false
		}
		if len(b) < tls.RecordHeaderLen {
			return false, true
		}
		r, ok := tls.ParseRecord(b)
		if !ok || r.Length == 0 {
			return false, false // empty handshake records are forbidden (RFC 8446 §5.1)
		}
		body := b[tls.RecordHeaderLen:min(len(b), tls.RecordHeaderLen+r.Length)]
		got += copy(hdr[got:], body)
		if len(body) < r.Length {
			if got < len(hdr) {
				return false, true
			}
			break
		}
		b = b[tls.RecordHeaderLen+r.Length:]
	}
	h, _ := tls.ParseHandshake(hdr[:])
	return (h.Type == tls.TypeClientHello || h.Type == tls.TypeServerHello) && h.Length >= 38 && h.Length < 1<<17, false
}

// lost records that a direction's handshake will not be read: when the
// ClientHello has not been, nothing names the flow, which the policy must
// hear of (Ctx.Uninspectable).
func (t *tlsState) lost(c *Ctx, d *tlsDir) {
	if !t.clientHello && (c.Dir == t.chDir || !t.serverHello) {
		c.Uninspectable()
		if c.Flow.Result.Master == 0 {
			c.Set(tlsMaster(c), 0) // the records say TLS, if not which server
		}
	}
}

// plausibleFirstRecord accepts a handshake record starting a ClientHello
// or ServerHello, or (for flows picked up mid-stream) exactly whole
// records of the other types.
func plausibleFirstRecord(r tls.Record, b []byte) bool {
	switch r.Type {
	case tls.RecordHandshake:
		if len(b) < tls.RecordHeaderLen+tls.HandshakeHeaderLen {
			return false
		}
		h, _ := tls.ParseHandshake(b[tls.RecordHeaderLen:])
		return (h.Type == tls.TypeClientHello || h.Type == tls.TypeServerHello) && h.Length >= 38 && h.Length < 1<<17
	case tls.RecordApplicationData, tls.RecordAlert, tls.RecordChangeCipherSpec:
		// Mid-stream: the payload must be exactly a run of whole records.
		for len(b) > 0 {
			r, ok := tls.ParseRecord(b)
			if !ok || r.Version == tls.VersionSSL30 || tls.RecordHeaderLen+r.Length > len(b) || r.Length == 0 {
				return false
			}
			if r.Type == tls.RecordChangeCipherSpec && r.Length != 1 {
				return false
			}
			b = b[tls.RecordHeaderLen+r.Length:]
		}
		return true
	}
	return false
}

// status turns the flow state into the dissector's answer.
func (t *tlsState) status(c *Ctx) Status {
	classified := c.Flow.Result.Master != 0
	if !classified {
		if t.dir[0].failed && t.dir[1].failed {
			return Exclude
		}
		return Continue
	}
	if t.done || t.certDone || t.tls13 || t.noCert ||
		t.dir[t.serverDir()].failed || t.dir[t.serverDir()].ccs || t.dir[t.serverDir()].appData {
		return Done
	}
	// Still waiting for the server's flight: say what it may change.
	p := FieldRisks | FieldMeta
	r := &c.Flow.Result
	if r.App == 0 || r.App == r.Master {
		p |= FieldApp // the certificate's names may still name the service
	}
	c.Pending(p)
	return More
}

func (t *tlsState) serverDir() Dir { return 1 - t.chDir }

// readDirect handles a segment that holds only whole records, each
// holding only whole handshake messages, without copying. It reports
// false (having done nothing) when the segment needs reassembly.
func (t *tlsState) readDirect(c *Ctx, d *tlsDir) bool {
	b := c.Payload
	// Dry run: is everything whole?
	for p := b; len(p) > 0; {
		r, ok := tls.ParseRecord(p)
		if !ok {
			// Not a record boundary (a lost or reordered segment, or not
			// TLS at all): nothing more can be read in this direction.
			d.failed = true
			return true
		}
		if tls.RecordHeaderLen+r.Length > len(p) {
			return false
		}
		body := p[tls.RecordHeaderLen : tls.RecordHeaderLen+r.Length]
		if r.Type == tls.RecordHandshake && !d.ccs {
			for len(body) > 0 {
				h, ok := tls.ParseHandshake(body)
				if !ok || tls.HandshakeHeaderLen+h.Length > len(body) {
					return false
				}
				body = body[tls.HandshakeHeaderLen+h.Length:]
			}
		}
		p = p[tls.RecordHeaderLen+r.Length:]
	}
	for p := b; len(p) > 0 && !d.failed; {
		r, ok := tls.ParseRecord(p)
		if !ok {
			return true
		}
		body := p[tls.RecordHeaderLen : tls.RecordHeaderLen+r.Length]
		p = p[tls.RecordHeaderLen+r.Length:]
		if r.Type != tls.RecordHandshake || d.ccs {
			t.record(c, d, r.Type, body)
			continue
		}
		for len(body) > 0 {
			h, _ := tls.ParseHandshake(body)
			t.message(c, h.Type, body[tls.HandshakeHeaderLen:tls.HandshakeHeaderLen+h.Length], true)
			body = body[tls.HandshakeHeaderLen+h.Length:]
		}
	}
	return true
}

// readBuffered advances through the direction's stream buffer: handshake
// record bodies are compacted to the front, other records handled in
// order, and every complete handshake message processed.
func (t *tlsState) readBuffered(c *Ctx, d *tlsDir) {
	buf := c.Stream()
	n := int32(len(buf))
	for d.raw < n && !d.failed {
		if d.recLeft == 0 {
			if n-d.raw < tls.RecordHeaderLen {
				break
			}
			r, ok := tls.ParseRecord(buf[d.raw:])
			if !ok {
				d.failed = true
				break
			}
			if r.Type != tls.RecordHandshake || d.ccs {
				// Small records are handled whole, after the handshake
				// messages before them; the others are skipped.
				if r.Length <= 64 && n-d.raw < int32(tls.RecordHeaderLen+r.Length) {
					break
				}
				t.drain(c, d, buf)
				end := d.raw + int32(tls.RecordHeaderLen+r.Length)
				if end <= n {
					t.record(c, d, r.Type, buf[d.raw+tls.RecordHeaderLen:end])
				} else {
					t.record(c, d, r.Type, nil)
				}
			}
			d.raw += tls.RecordHeaderLen
			d.recType, d.recLeft = r.Type, int32(r.Length)
			continue
		}
		k := min(d.recLeft, n-d.raw)
		if d.recType == tls.RecordHandshake && !d.ccs {
			copy(buf[d.hsLen:], buf[d.raw:d.raw+k])
			d.hsLen += k
		}
		d.raw += k
		d.recLeft -= k
	}
	t.drain(c, d, buf)
	if !d.failed && !t.done && d.raw < n {
		c.Incomplete() // a record header cut short
	}
	t.compact(c, d)
}

// compact gives the stream buffer's dead bytes back to the engine: the
// handshake messages already processed and the record headers between
// the compacted handshake bytes and the unread ones. A ClientHello cut
// into one-byte records carries five header bytes per byte of message;
// without this its record headers alone would fill the buffer.
func (t *tlsState) compact(c *Ctx, d *tlsDir) {
	if d.failed || t.done {
		return
	}
	buf := c.Stream()
	n := int32(len(buf))
	if d.parsed == 0 && d.raw == d.hsLen || d.raw > n {
		return
	}
	k := int32(copy(buf, buf[d.parsed:d.hsLen]))
	k += int32(copy(buf[k:], buf[d.raw:n]))
	d.raw = d.hsLen - d.parsed
	d.hsLen -= d.parsed
	d.parsed = 0
	c.ShrinkStream(int(k))
}

// drain processes the complete handshake messages compacted so far.
func (t *tlsState) drain(c *Ctx, d *tlsDir, buf []byte) {
	for !d.failed && !t.done {
		rest := buf[d.parsed:d.hsLen]
		h, ok := tls.ParseHandshake(rest)
		if !ok {
			return
		}
		if tls.HandshakeHeaderLen+h.Length > len(rest) {
			// An incomplete Certificate is enough once its leaf is in.
			if h.Type == tls.TypeCertificate && !t.certDone {
				t.message(c, h.Type, rest[tls.HandshakeHeaderLen:], false)
			}
			if c.StreamFull() || tls.HandshakeHeaderLen+h.Length > cap(buf) {
				d.failed = true // the message will never complete
				if h.Type == tls.TypeClientHello {
					t.lost(c, d)
				}
			} else if !t.done && !t.certDone {
				c.Incomplete()
			}
			return
		}
		t.message(c, h.Type, rest[tls.HandshakeHeaderLen:tls.HandshakeHeaderLen+h.Length], true)
		d.parsed += int32(tls.HandshakeHeaderLen + h.Length)
	}
}

// record handles a non-handshake record (body may be nil when it was not
// read whole).
func (t *tlsState) record(c *Ctx, d *tlsDir, typ uint8, body []byte) {
	switch typ {
	case tls.RecordChangeCipherSpec:
		d.ccs = true
	case tls.RecordApplicationData:
		d.appData = true
	case tls.RecordAlert:
		// A clear-text alert is two bytes: level, description (RFC 8446
		// §6); longer ones are encrypted.
		if len(body) == 2 && body[0] == 2 {
			c.AddRisk(RiskTLSFatalAlert)
		}
	case tls.RecordHandshake:
		// Encrypted handshake (after ChangeCipherSpec): nothing to read.
	}
	if c.Flow.Result.Master == 0 && (d.ccs || d.appData || typ == tls.RecordAlert) {
		// A flow picked up after its handshake: still TLS.
		c.Set(tlsMaster(c), 0)
		t.done = true
	}
}

// message handles one handshake message; whole is false for a prefix of
// a Certificate message.
func (t *tlsState) message(c *Ctx, typ uint8, body []byte, whole bool) {
	switch typ {
	case tls.TypeClientHello:
		if !t.clientHello && whole {
			t.onClientHello(c, body)
		}
	case tls.TypeServerHello:
		if !t.serverHello && whole {
			t.onServerHello(c, body)
		}
	case tls.TypeCertificate:
		if !t.certDone && (!t.clientHello || c.Dir != t.chDir) {
			t.onCertificate(c, body, whole)
		}
	case tls.TypeServerKeyExchange, tls.TypeServerHelloDone, tls.TypeCertificateRequest:
		if t.serverHello && c.Dir != t.chDir && !t.certDone {
			t.noCert = true
		}
	}
}

// tlsMaster is the master protocol of TLS on this flow's port: mail
// protocols over implicit TLS have their own names.
func tlsMaster(c *Ctx) ProtoID {
	switch c.ServerPort() {
	case 465:
		return ProtoSMTPS
	case 993:
		return ProtoIMAPS
	case 995:
		return ProtoPOPS
	}
	return ProtoTLS
}

func (t *tlsState) onClientHello(c *Ctx, body []byte) {
	var ch tls.ClientHello
	if tls.ParseClientHello(body, false, &ch) != nil {
		return
	}
	t.clientHello = true
	t.chDir = c.Dir
	master := tlsMaster(c)
	c.Set(master, 0)
	applyClientHello(c, t, &ch, master, tls.JA4TCP)
}

// applyClientHello fills the flow from a parsed ClientHello (TLS, DTLS and
// QUIC share it).
func applyClientHello(c *Ctx, t *tlsState, ch *tls.ClientHello, master ProtoID, transport byte) {
	r := &c.Flow.Result
	// nDPI treats DTLS-SRTP as WebRTC only when STUN came first.
	t.webrtc = ch.UseSRTP && transport == tls.JA4DTLS && t.viaSTUN
	if r.TLSVersion == 0 {
		r.TLSVersion = ch.Version
	}
	var host string
	if ch.HasSNI && len(ch.SNI) > 0 {
		host = c.SetHostname(ch.SNI)
	}
	var buf [512]byte
	r.JA4 = c.Intern(tls.AppendJA4(buf[:0], ch, transport, tls.JA4NDPI))
	ja3 := tls.AppendJA3(buf[:0], ch)
	var sum [32]byte
	r.JA3 = c.Intern(tls.AppendMD5Hex(sum[:0], ja3))
	if ch.HasALPN {
		t.alpnSeen = true
		r.ALPN = c.Intern(tls.AppendALPNList(buf[:0], ch.ALPN, ',', 255))
	}

	// Risks, with nDPI's conditions.
	if ch.Version < tls.VersionTLS12 {
		c.AddRisk(RiskTLSObsoleteVersion)
	}
	if ch.Version >= tls.VersionTLS12 && !t.webrtc && !ch.HasALPN && transport != tls.JA4QUIC {
		c.AddRisk(RiskTLSNotCarryingHTTPS)
	}
	// With the draft encrypted_server_name the name is hidden, not missing;
	// sending it in clear as well is the suspicious use.
	if host == "" && ch.Version >= tls.VersionTLS11 && !t.webrtc && !ch.ESNI {
		c.AddRisk(RiskTLSMissingSNI)
		it := ch.ALPNProtocols()
		for p, ok := it.Next(); ok; p, ok = it.Next() {
			if p[0] == 'h' {
				c.AddRisk(RiskTLSALPNSNIMismatch)
				break
			}
		}
	}
	if ch.HasALPN && hasUncommonALPN(ch.ALPN) {
		c.AddRisk(RiskTLSUncommonALPN)
	}
	for _, e := range ch.Extensions[:ch.NumExtensions] {
		if suspiciousExtension(e, transport == tls.JA4DTLS) {
			c.AddRisk(RiskTLSSuspiciousExtension)
			break
		}
	}
	if ch.BadExtLen {
		c.AddRisk(RiskTLSSuspiciousExtension)
	}
	if ch.ESNI && host != "" {
		c.AddRisk(RiskTLSSuspiciousESNI)
	}
	if ch.ECH {
		// Encrypted Client Hello: the SNI read above is the outer, public
		// name of the ECH configuration; the name the client wants is
		// encrypted. A GREASE ECH extension (random bytes of the same
		// shape, sent when the client has no configuration) cannot be
		// told from a real one without the server's key: both are
		// flagged, and the outer name stays the flow's name.
		c.AddRisk(RiskTLSECH)
	}

	appKnown := r.App != 0 && r.App != master
	if !appKnown {
		if ch.HasALPN && alpnApp(c, ch.ALPN) {
			appKnown = true
		}
	}
	if !appKnown && host != "" {
		if tls.IsIPv4Literal(ch.SNI) {
			c.AddRisk(RiskNumericIPHost)
		} else if looksDGA(host) {
			c.AddRisk(RiskSuspiciousDGADomain)
			// Tor's clients make up "www.<random>.com" names and send no
			// ALPN (nDPI names such flows Tor on the DGA test alone).
			if torName(host, ".com", 4, 25) && !ch.HasALPN {
				setTor(c)
				appKnown = true
			}
		}
		t.torSNI = torName(host, ".com", 4, 25) || torName(host, ".net", 4, 25)
	}
	if !appKnown && transport != tls.JA4QUIC {
		// An operator's list of Tor relays (catalog rules ip:…@Tor).
		if en, ok := c.Catalog().Addr(c.Flow.Server().Addr()); ok && en.App == ProtoTor {
			setTor(c)
		}
	}
}

func setTor(c *Ctx) {
	c.SetApp(ProtoTor) // the engine adds the unsafe-protocol risk by breed
}

// torName reports whether host is "www." + a label of Tor's random
// base32 alphabet (a–z, 2–7) + suffix, the label min..max long (Tor's
// crypto_random_hostname).
func torName(host, suffix string, min, max int) bool {
	if len(host) < 4+len(suffix) || host[:4] != "www." || host[len(host)-len(suffix):] != suffix {
		return false
	}
	l := host[4 : len(host)-len(suffix)]
	if len(l) < min || len(l) > max {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// alpnApp names an application by its ALPN protocol (nDPI does this for
// AnyDesk only): it reports whether it did.
func alpnApp(c *Ctx, list []byte) bool {
	if len(list) > 9 && string(list[1:9]) == "anydesk/" {
		c.SetApp(ProtoAnyDesk)
		c.AddRisk(RiskDesktopOrFileSharing)
		return true
	}
	return false
}

// commonALPN lists the ALPN protocol ids nDPI considers usual (IANA's
// registry plus the QUIC drafts' ids); anything else is "uncommon".
var commonALPN = [...]string{
	"http/0.9", "http/1.0", "http/1.1", "spdy/1", "spdy/2", "spdy/3", "spdy/3.1",
	"stun.turn", "stun.nat-discovery", "h2", "h2c", "h2-16", "h2-15", "h2-14", "h2-fb",
	"webrtc", "c-webrtc", "ftp", "imap", "pop3", "managesieve", "coap", "xmpp-client",
	"xmpp-server", "acme-tls/1", "mqtt", "dot", "ntske/1", "sunrpc", "h3", "smb", "irc",
	"nntp", "nnsp", "doq", "sip/2", "tds/8.0", "dicom", "postgresql", "radius/1.0", "radius/1.1",
	"h3-T051", "h3-T050", "h3-Q050", "h3-Q046", "h3-Q043", "h3-Q039",
	"h3-34", "h3-33", "h3-32", "h3-31", "h3-30", "h3-29", "h3-28", "h3-27", "h3-25", "h3-24", "h3-23", "h3-22",
	"hq-34", "hq-33", "hq-32", "hq-31", "hq-30", "hq-29", "hq-28", "hq-27", "hq-interop",
	"h3-fb-05", "h1q-fb", "doq-i00", "doq-i02", "doq-i03", "doq-i11",
}

func hasUncommonALPN(list []byte) bool {
	it := tls.NewALPNIter(list)
	for p, ok := it.Next(); ok; p, ok = it.Next() {
		common := false
		for _, a := range commonALPN {
			if string(p) == a {
				common = true
				break
			}
		}
		if !common {
			return true
		}
	}
	return false
}

// suspiciousExtension applies nDPI's test: an extension id outside IANA's
// assigned range (0–59, renegotiation_info, ECH) that is none of the
// well-known unofficial ones, or a DTLS-only extension over TLS.
func suspiciousExtension(e uint16, dtls bool) bool {
	if e > 59 && e != 0xff01 && e != 0xfe0d {
		switch e {
		case 13172, // next_protocol_negotiation
			30032,        // channel_id
			0xffa5,       // QUIC transport parameters (drafts)
			0xffce,       // encrypted_server_name (drafts)
			17513, 17613: // application_settings (ALPS)
			return false
		}
		return !tls.IsGREASE(e)
	}
	return !dtls && (e == 53 || e == 54) // connection_id (RFC 9146), DTLS only
}

func (t *tlsState) onServerHello(c *Ctx, body []byte) {
	var sh tls.ServerHello
	if tls.ParseServerHello(body, &sh) != nil {
		return
	}
	// A HelloRetryRequest is read as the ServerHello it is shaped like: it
	// already fixes TLS 1.3 and the cipher, and what follows is encrypted
	// (nDPI reads it the same way, JA3S included).
	t.serverHello = true
	r := &c.Flow.Result
	if r.Master == 0 {
		// Seen from the server side only.
		t.chDir = 1 - c.Dir
		c.Set(tlsMaster(c), 0)
	}
	applyServerHello(c, t, &sh)
}

// applyServerHello fills the flow from a parsed ServerHello (TLS and DTLS).
func applyServerHello(c *Ctx, t *tlsState, sh *tls.ServerHello) {
	r := &c.Flow.Result
	r.TLSVersion = sh.Selected
	r.Cipher = sh.Cipher
	if sh.Selected >= tls.VersionTLS13 && sh.Selected < tls.VersionDTLS13 || sh.Selected == tls.VersionDTLS13 {
		t.tls13 = true
	}
	if sh.Selected < tls.VersionTLS12 {
		c.AddRisk(RiskTLSObsoleteVersion)
	}
	if tls.CipherStrength(sh.Cipher) != tls.CipherSafe {
		c.AddRisk(RiskTLSWeakCipher)
	}
	m := c.Meta()
	var buf [256]byte
	var sum [32]byte
	m.JA3S = c.Intern(tls.AppendMD5Hex(sum[:0], tls.AppendJA3S(buf[:0], sh)))
	if len(sh.ALPN) > 0 {
		m.ServerALPN = c.Intern(sh.ALPN)
		if !t.alpnSeen && !isCommonALPN(sh.ALPN) {
			c.AddRisk(RiskTLSUncommonALPN)
		}
	}
	for _, e := range sh.Extensions[:sh.NumExtensions] {
		if suspiciousExtension(e, t.webrtc) {
			c.AddRisk(RiskTLSSuspiciousExtension)
			break
		}
	}
}

func isCommonALPN(p []byte) bool {
	for _, a := range commonALPN {
		if string(p) == a {
			return true
		}
	}
	return false
}

func (t *tlsState) onCertificate(c *Ctx, body []byte, whole bool) {
	der, err := tls.LeafCertificate(body, false)
	if err != nil {
		if whole || err != tls.ErrShort {
			t.certDone = true // malformed: give up on it
		}
		return
	}
	if c.Flow.Result.Master == 0 {
		return // a certificate before any hello: not a handshake we follow
	}
	t.certDone = true
	var cert tls.Certificate
	if tls.ParseCertificate(der, &cert) != nil {
		return
	}
	applyCertificate(c, t, &cert)
}

// applyCertificate fills the flow from the server's leaf certificate.
func applyCertificate(c *Ctx, t *tlsState, cert *tls.Certificate) {
	r := &c.Flow.Result
	m := c.Meta()
	m.HasCert = true
	m.CertIssuer = c.Intern(cert.Issuer())
	m.CertSubject = c.Intern(cert.Subject())
	m.CertSHA1 = cert.SHA1
	if cert.HasValidity {
		m.CertNotBefore, m.CertNotAfter = cert.NotBefore, cert.NotAfter
		now := c.Flow.LastSeen / 1e9
		switch {
		case now < cert.NotBefore || now > cert.NotAfter:
			c.AddRisk(RiskTLSCertExpired)
		case now > cert.NotAfter-certExpiryWarning:
			c.AddRisk(RiskTLSCertAboutToExpire)
		}
		if cert.NotBefore > certValidityFrom && cert.NotAfter-cert.NotBefore > certValidityLimit {
			c.AddRisk(RiskTLSCertValidityTooLong)
		}
	}
	if cert.SelfIssued() && !t.webrtc {
		c.AddRisk(RiskTLSSelfSigned)
	}
	host := r.Hostname
	if cert.HasSAN && host != "" && !cert.MatchesHost([]byte(host)) {
		c.AddRisk(RiskTLSCertMismatch)
	}
	if r.App != 0 && r.App != r.Master {
		return
	}
	if torCertificate(cert) && (host == "" || t.torSNI) {
		setTor(c)
		return
	}
	// Without a known server name, the certificate's names may tell the
	// service (nDPI matches them against its host list).
	cat := c.Catalog()
	for _, n := range cert.Names[:cert.NumNames] {
		if n.Kind != tls.NameDNS {
			continue
		}
		name := n.Value
		if len(name) > 2 && name[0] == '*' && name[1] == '.' {
			name = name[2:]
		}
		var lower [256]byte
		if len(name) > len(lower) {
			continue
		}
		for i, b := range name { // the catalog wants lower case
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			lower[i] = b
		}
		if en, ok := cat.Host(c.Intern(lower[:len(name)])); ok && en.App != 0 && en.App != r.Master {
			if en.Category != 0 {
				c.s.catCategory = en.Category
				r.Category = en.Category
			}
			c.SetApp(en.App)
			return
		}
	}
}

// torCertificate recognises the link certificates Tor relays make up: an
// issuer and a subject that are each a single common name of the form
// www.<random base32>.com or .net (Tor's crypto_random_hostname(8, 20)).
func torCertificate(cert *tls.Certificate) bool {
	if cert.IssuerAttrs != 1 || cert.SubjectAttrs != 1 {
		return false
	}
	is, sub := string(cert.IssuerCN), string(cert.SubjectCN)
	okName := func(s string) bool { return torName(s, ".com", 8, 20) || torName(s, ".net", 8, 20) }
	return is != sub && okName(is) && okName(sub)
}
