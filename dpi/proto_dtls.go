package dpi

import (
	"ips/dpi/tls"
)

// The DTLS dissector (UDP, any port): DTLS 1.0/1.2 (RFC 6347) and the
// clear-text start of DTLS 1.3 (RFC 9147). The ClientHello gives the SNI,
// ALPN, JA4 (prefix "d") and JA3; the ServerHello the version and cipher;
// a DTLS 1.2 server's Certificate — usually fragmented over several
// datagrams — is reassembled by fragment offset into a pooled buffer for
// the issuer, subject, validity and SHA-1. A flow picked up after its
// handshake is recognised by its record headers alone.
//
// Other dissectors that find DTLS inside their protocol (STUN/TURN
// carrying WebRTC's DTLS-SRTP) can call dtlsObserve on those payloads to
// collect the same metadata without giving up their classification.

// dtlsState is the DTLS dissector's per-flow state. The handshake state
// proper lives in the flow's tlsState (TLS runs on TCP only, so a UDP flow
// never needs both), and fragments are reassembled with the QUIC state's
// buffer and assembler (a flow is never both QUIC and DTLS: the first
// datagram rules one of them out).
type dtlsState struct {
	// One handshake message at a time is reassembled from fragments.
	asmDir  Dir
	asmSeq  uint16
	asmType uint8
	asmLen  int32
	asmOn   bool
	records uint8 // datagrams read
}

const dtlsMaxDatagrams = 24

func dissectDTLS(c *Ctx) Status {
	d := &c.s.dtls
	if c.Flow.Result.Master == 0 && !c.s.tls.seen {
		if !dtlsPlausible(c.Payload) {
			// WebRTC multiplexes STUN and DTLS on one port (RFC 7983):
			// connectivity checks come first, the DTLS handshake after.
			if isSTUN(c.Payload) && c.Payloads(c.Dir) <= 8 {
				c.s.tls.viaSTUN = true
				return Continue
			}
			return Exclude
		}
		c.s.tls.seen = true
		c.s.tls.chDir = c.Dir
	}
	dtlsRead(c, d, c.Payload, true)
	return d.status(c)
}

// dtlsObserve reads a DTLS payload met by another dissector (inside STUN,
// for instance): metadata only, the flow keeps its classification. It
// reports whether the payload was DTLS.
func dtlsObserve(c *Ctx) bool {
	d := &c.s.dtls
	if !dtlsPlausible(c.Payload) {
		return false
	}
	if t := &c.s.tls; !t.seen {
		t.seen = true
		t.chDir = c.Dir
	}
	c.s.tls.viaSTUN = true
	dtlsRead(c, d, c.Payload, false)
	return true
}

// isSTUN recognises a STUN message header (RFC 8489 §5): two zero bits,
// a length multiple of 4 that fits, and the magic cookie.
func isSTUN(b []byte) bool {
	return len(b) >= 20 && b[0]&0xc0 == 0 && b[4] == 0x21 && b[5] == 0x12 && b[6] == 0xa4 && b[7] == 0x42 &&
		(int(b[2])<<8|int(b[3]))%4 == 0 && 20+(int(b[2])<<8|int(b[3])) <= len(b)
}

// dtlsPlausible accepts a datagram made only of whole DTLS records with a
// known version, the first a handshake at epoch 0 or (mid-session) any
// record type.
func dtlsPlausible(b []byte) bool {
	if len(b) < tls.DTLSRecordHeaderLen+1 {
		return false
	}
	for p := b; len(p) > 0; {
		r, ok := tls.ParseDTLSRecord(p)
		if !ok || r.Length == 0 || tls.DTLSRecordHeaderLen+r.Length > len(p) {
			return false
		}
		if r.Type == tls.RecordHandshake && r.Epoch == 0 {
			h, ok := tls.ParseDTLSHandshake(p[tls.DTLSRecordHeaderLen:])
			if !ok || h.Type > tls.TypeCertificateStatus {
				return false
			}
		}
		p = p[tls.DTLSRecordHeaderLen+r.Length:]
	}
	return true
}

func (d *dtlsState) status(c *Ctx) Status {
	t := &c.s.tls
	if c.Flow.Result.Master == 0 {
		return Continue
	}
	if t.done || t.certDone || t.tls13 || t.noCert || d.records >= dtlsMaxDatagrams ||
		t.dir[t.serverDir()].ccs || t.dir[t.serverDir()].appData {
		return Done
	}
	c.Pending(FieldRisks | FieldMeta | FieldApp)
	return More
}

// dtlsRead walks the records of one datagram; classify tells whether the
// dissector owns the flow's classification.
func dtlsRead(c *Ctx, d *dtlsState, b []byte, classify bool) {
	t := &c.s.tls
	if d.records < 0xff {
		d.records++
	}
	dir := &t.dir[c.Dir]
	for len(b) > 0 {
		r, ok := tls.ParseDTLSRecord(b)
		if !ok || tls.DTLSRecordHeaderLen+r.Length > len(b) {
			return
		}
		body := b[tls.DTLSRecordHeaderLen : tls.DTLSRecordHeaderLen+r.Length]
		b = b[tls.DTLSRecordHeaderLen+r.Length:]
		switch {
		case r.Type == tls.RecordHandshake && r.Epoch == 0:
			for len(body) >= tls.DTLSHandshakeHeaderLen {
				h, ok := tls.ParseDTLSHandshake(body)
				if !ok || tls.DTLSHandshakeHeaderLen+h.FragLength > len(body) {
					break
				}
				frag := body[tls.DTLSHandshakeHeaderLen : tls.DTLSHandshakeHeaderLen+h.FragLength]
				body = body[tls.DTLSHandshakeHeaderLen+h.FragLength:]
				d.fragment(c, &h, frag, classify)
			}
		case r.Type == tls.RecordAlert:
			if r.Epoch == 0 && len(body) == 2 && body[0] == 2 {
				c.AddRisk(RiskTLSFatalAlert)
			}
		case r.Type == tls.RecordChangeCipherSpec:
			dir.ccs = true
		default:
			// Application data, or a handshake at a later epoch: the
			// handshake is over, or encrypted.
			dir.appData = true
		}
	}
	if classify && c.Flow.Result.Master == 0 && (dir.ccs || dir.appData) {
		c.Set(ProtoDTLS, 0) // a session picked up after its handshake
		t.done = true
	}
}

// fragment handles one handshake fragment: whole messages directly, the
// others through the reassembly buffer.
func (d *dtlsState) fragment(c *Ctx, h *tls.DTLSHandshake, frag []byte, classify bool) {
	if h.FragOffset == 0 && h.FragLength == h.Length {
		d.message(c, h.Type, frag, classify)
		return
	}
	q := &c.s.quic
	if !d.asmOn || d.asmDir != c.Dir || d.asmSeq != h.MessageSeq || d.asmType != h.Type {
		if q.buf == nil {
			if q.buf = c.e.quicBuffer(); q.buf == nil {
				return
			}
		}
		q.crypto.Reset(q.buf[:0])
		d.asmOn, d.asmDir, d.asmSeq, d.asmType, d.asmLen = true, c.Dir, h.MessageSeq, h.Type, int32(h.Length)
	}
	q.crypto.Add(uint64(h.FragOffset), frag)
	got := q.crypto.Contiguous()
	switch {
	case len(got) >= int(d.asmLen):
		d.asmOn = false
		d.message(c, h.Type, got[:d.asmLen], classify)
	case h.Type == tls.TypeCertificate && len(got) > 0:
		// The leaf may already be whole.
		d.certificate(c, got, false)
	case q.crypto.Overflow:
		d.asmOn = false
	}
}

func (d *dtlsState) message(c *Ctx, typ uint8, body []byte, classify bool) {
	t := &c.s.tls
	switch typ {
	case tls.TypeClientHello:
		if t.clientHello {
			return // the retry after a HelloVerifyRequest
		}
		var ch tls.ClientHello
		if tls.ParseClientHello(body, true, &ch) != nil {
			return
		}
		t.clientHello, t.chDir = true, c.Dir
		if classify {
			c.Set(ProtoDTLS, 0)
		}
		applyClientHello(c, t, &ch, ProtoDTLS, tls.JA4DTLS)
	case tls.TypeServerHello:
		if t.serverHello {
			return
		}
		var sh tls.ServerHello
		if tls.ParseServerHello(body, &sh) != nil {
			return
		}
		t.serverHello = true
		if !t.clientHello {
			t.chDir = 1 - c.Dir
		}
		if classify && c.Flow.Result.Master == 0 {
			c.Set(ProtoDTLS, 0)
		}
		applyServerHello(c, t, &sh)
	case tls.TypeHelloVerifyRequest:
		if classify && c.Flow.Result.Master == 0 {
			c.Set(ProtoDTLS, 0)
		}
	case tls.TypeCertificate:
		d.certificate(c, body, true)
	case tls.TypeServerKeyExchange, tls.TypeServerHelloDone:
		if t.serverHello && !t.certDone && c.Dir != t.chDir {
			t.noCert = true
		}
	}
}

func (d *dtlsState) certificate(c *Ctx, body []byte, whole bool) {
	t := &c.s.tls
	if t.certDone || (t.clientHello && c.Dir == t.chDir) || c.Flow.Result.Master == 0 && !t.seen {
		return
	}
	der, err := tls.LeafCertificate(body, false)
	if err != nil {
		if whole || err != tls.ErrShort {
			t.certDone = true
		}
		return
	}
	t.certDone = true
	var cert tls.Certificate
	if tls.ParseCertificate(der, &cert) == nil {
		applyCertificate(c, t, &cert)
	}
}
