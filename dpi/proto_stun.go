package dpi

import (
	"bytes"
	"encoding/binary"
	"net/netip"
)

// STUN (RFC 8489, classic STUN RFC 3489) and TURN (RFC 8656, TCP
// allocations RFC 6062) carry the set-up of most real-time calls: WebRTC,
// WhatsApp, Messenger, Teams, Meet, Zoom, Signal, Telegram. The same
// 5-tuple then multiplexes DTLS and (S)RTP (RFC 7983, RFC 9443), so the
// dissector keeps watching the flow after it is classified, the way nDPI
// does: DTLS turns the flow into DTLS.<app>, RTP into SRTP.<app>.

const (
	stunHeaderLen   = 20
	stunMagicCookie = 0x2112A442

	// stunExtraPackets is how many packets are inspected after the flow is
	// classified, for sub-classification and DTLS/RTP (nDPI's default).
	stunExtraPackets = 6
	// stunDTLSExtra is added when DTLS starts, to leave room for its
	// handshake.
	stunDTLSExtra = 10
)

// stunState is STUN's per-flow state.
type stunState struct {
	active  bool  // classified: now demultiplexing extra packets
	turn    bool  // a TURN method was seen (ChannelData may follow)
	dtls    bool  // switched to DTLS
	tgRelay bool  // a Telegram relay flow: STUN/DTLS/RTP wrapped in its framing
	pkts    uint8 // STUN messages seen before classification
	checked uint8 // extra packets inspected
	max     uint8 // extra packets allowed
	addrs   uint8 // stunAttr* metadata attributes seen
}

// Address attributes whose presence ends the extra dissection once all
// are known (RFC 8489 §14, RFC 8656 §18, RFC 5780 §7).
const (
	stunAttrMapped uint8 = 1 << iota
	stunAttrPeer
	stunAttrRelayed
	stunAttrRespOrigin
	stunAttrOther
	stunAttrAll = stunAttrMapped | stunAttrPeer | stunAttrRelayed | stunAttrRespOrigin | stunAttrOther
)

// stunInfo is what one message tells. Slices point into the packet.
type stunInfo struct {
	app   ProtoID
	turn  bool
	addrs uint8
	realm []byte
	data  []byte // DATA attribute: a relayed datagram (TURN Send/Data indication)
	peers [2]netip.AddrPort
	npeer uint8
}

const (
	stunInvalid = -1 // malformed as STUN
	stunNo      = 0  // not STUN
	stunYes     = 1
)

// parseSTUN inspects one STUN message at the start of b. tcp selects the
// stream rules: RFC 4571 framing may precede the message, the magic cookie
// is required and trailing bytes (a following message) are allowed.
func parseSTUN(b []byte, tcp bool, info *stunInfo) int {
	*info = stunInfo{}
	if len(b) < stunHeaderLen {
		return stunInvalid
	}
	// Legacy Microsoft/Skype responses.
	if bytes.HasPrefix(b, []byte("RSP/")) && bytes.HasPrefix(b[7:], []byte(" STUN_")) {
		return stunYes
	}
	if tcp && len(b) >= stunHeaderLen+2 && int(binary.BigEndian.Uint16(b))+2 == len(b) {
		b = b[2:] // RFC 4571 framing
	}
	// [MS-TURN] 2.2.3 multiplexed TURN: a 12-byte header before the message.
	if len(b) >= stunHeaderLen+12 && binary.BigEndian.Uint16(b) == 0xFF10 &&
		int(binary.BigEndian.Uint16(b[2:]))+4 == len(b) {
		b = b[12:]
	}
	typ := binary.BigEndian.Uint16(b)
	mlen := int(binary.BigEndian.Uint16(b[2:]))
	cookie := binary.BigEndian.Uint32(b[4:]) == stunMagicCookie
	if tcp {
		if !cookie || mlen+stunHeaderLen > len(b) {
			return stunNo
		}
		b = b[:mlen+stunHeaderLen]
	}
	if typ == 0 || typ&0xC000 != 0 || mlen+stunHeaderLen != len(b) {
		return stunInvalid
	}
	// RFC 8489 §5: the two top bits are zero (checked above, which also
	// tells STUN from RTP and DTLS, RFC 7983); methods beyond 0x00B are
	// not in use, except WhatsApp's private 0x08xx messages.
	if typ&0x3EEF > 0x000B && !stunWhatsAppType(typ) {
		return stunInvalid
	}
	if !cookie && !stunClassic(typ, b) {
		return stunNo
	}
	if stunWhatsAppType(typ) {
		info.app = ProtoWhatsAppCall
		return stunYes
	}
	// RFC 8489 §5: method bits M0-M11 interleaved with the class bits.
	switch method := typ&0x000F | (typ&0x00E0)>>1 | (typ&0x3E00)>>2; method {
	case 0x003, 0x004, 0x005, 0x006, 0x007, 0x008, 0x009, 0x00A, 0x00B, 0x00C:
		info.turn = true // Allocate, Refresh, Send, Data, CreatePermission, ChannelBind, Connect…
	}
	var txid [12]byte
	copy(txid[:], b[8:20])
	for off := stunHeaderLen; off+4 < len(b); {
		at := binary.BigEndian.Uint16(b[off:])
		alen := int(binary.BigEndian.Uint16(b[off+2:]))
		padded := (alen + 3) &^ 3
		var val []byte
		if off+4+alen <= len(b) {
			val = b[off+4 : off+4+alen]
		}
		switch at {
		case 0x0001: // MAPPED-ADDRESS
			if stunAddrOK(val) {
				info.addrs |= stunAttrMapped
			}
		case 0x0020: // XOR-MAPPED-ADDRESS
			if stunAddrOK(val) {
				info.addrs |= stunAttrMapped
			}
		case 0x0016: // XOR-RELAYED-ADDRESS
			if stunAddrOK(val) {
				info.addrs |= stunAttrRelayed
			}
		case 0x802B: // RESPONSE-ORIGIN
			if stunAddrOK(val) {
				info.addrs |= stunAttrRespOrigin
			}
		case 0x802C: // OTHER-ADDRESS
			if stunAddrOK(val) {
				info.addrs |= stunAttrOther
			}
		case 0x0012: // XOR-PEER-ADDRESS
			if ap, ok := stunXORAddr(val, &txid); ok {
				info.addrs |= stunAttrPeer
				if int(info.npeer) < len(info.peers) {
					info.peers[info.npeer] = ap
					info.npeer++
				}
			}
		case 0x0101, 0x0103: // Zoom's private attributes
			info.app = ProtoZoom
			return stunYes
		case 0x4000, 0x4001, 0x4002, 0x4003, 0x4004, 0x4007: // WhatsApp's private attributes
			info.app = ProtoWhatsAppCall
		case 0x0014: // REALM: the TURN operator's domain names the service
			if val != nil && info.realm == nil {
				info.realm = val
				if app := stunRealmApp(val); app != 0 {
					info.app = app
				}
			}
		case 0x8054, 0x24DF, 0x3802, 0x8036, 0x8095, 0x0800, 0x8006, 0x8070, 0x8055:
			// [MS-TURN]/[MS-ICE2] attributes: candidate identifier,
			// multiplexed session id, implementation version, service quality…
			info.app = ProtoSkypeTeamsCall
		case 0xFF03: // Google's private attribute
			info.app = ProtoGoogleCall
		case 0x0013: // DATA
			if off+4+padded <= len(b) {
				info.data = b[off+4 : off+4+padded]
			}
		}
		off += 4 + padded
	}
	return stunYes
}

// stunWhatsAppType reports WhatsApp's private message types.
func stunWhatsAppType(t uint16) bool {
	switch t {
	case 0x0800, 0x0801, 0x0802, 0x0804, 0x0805:
		return true
	}
	return false
}

// stunClassic accepts an RFC 3489 message (no magic cookie): a known
// message type and attributes that tile the body exactly.
func stunClassic(typ uint16, b []byte) bool {
	switch typ {
	case 0x0001, 0x0101, 0x0111, // Binding
		0x0002, 0x0102, 0x0112, // Shared Secret
		0x0003, 0x0103, 0x0113, // Allocate
		0x0004, 0x0104, 0x0114, // Send
		0x0115,                 // Data Indication
		0x0006, 0x0106, 0x0116: // Set Active Destination
	default:
		return false
	}
	off := stunHeaderLen
	for off+4 < len(b) {
		off += 4 + (int(binary.BigEndian.Uint16(b[off+2:]))+3)&^3
	}
	return off == len(b)
}

// stunAddrOK checks an address attribute value (RFC 8489 §14.1): a
// reserved byte, family 1 (IPv4, 8 bytes) or 2 (IPv6, 20 bytes).
func stunAddrOK(v []byte) bool {
	return (len(v) == 8 && v[1] == 1) || (len(v) == 20 && v[1] == 2)
}

// stunXORAddr decodes an XOR-encoded address (RFC 8489 §14.2).
func stunXORAddr(v []byte, txid *[12]byte) (netip.AddrPort, bool) {
	if !stunAddrOK(v) {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(v[2:]) ^ uint16(stunMagicCookie>>16)
	var key [16]byte
	binary.BigEndian.PutUint32(key[:], stunMagicCookie)
	copy(key[4:], txid[:])
	if v[1] == 1 {
		var a [4]byte
		for i := range a {
			a[i] = v[4+i] ^ key[i]
		}
		return netip.AddrPortFrom(netip.AddrFrom4(a), port), true
	}
	var a [16]byte
	for i := range a {
		a[i] = v[4+i] ^ key[i]
	}
	return netip.AddrPortFrom(netip.AddrFrom16(a), port), true
}

// stunRealmApp names the service behind a TURN realm.
func stunRealmApp(realm []byte) ProtoID {
	switch {
	case !stunRealmValid(realm):
		return 0
	case bytes.Contains(realm, []byte("google.com")):
		return ProtoGoogleCall
	case bytes.Contains(realm, []byte("whispersystems.org")), bytes.Contains(realm, []byte("signal.org")):
		return ProtoSignalVoip
	case bytes.Contains(realm, []byte("facebook")):
		return ProtoFacebookVoip
	case bytes.Contains(realm, []byte("stripcdn.com")):
		return ProtoAdultContent
	case bytes.Contains(realm, []byte("telegram")):
		return ProtoTelegramVoip
	case bytes.Contains(realm, []byte("viber")):
		return ProtoViberVoip
	}
	return 0
}

// stunRealmValid rejects realms that are not printable text; some
// clients put binary junk there.
func stunRealmValid(realm []byte) bool {
	if len(realm) == 0 {
		return false
	}
	for _, c := range realm {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// stunRealApp reports whether app is a real sub-classification rather
// than a transport named in the application slot.
func stunRealApp(app ProtoID) bool {
	switch app {
	case 0, ProtoSTUN, ProtoRTP, ProtoRTCP, ProtoSRTP, ProtoDTLS, ProtoTelegram:
		return false
	}
	return true
}

// dissectSTUN classifies STUN/TURN and then demultiplexes the flow.
func dissectSTUN(c *Ctx) Status {
	st := &c.s.realtime.stun
	if st.active {
		if st.tgRelay {
			return Exclude // the Telegram dissector owns the flow
		}
		return stunExtra(c, st)
	}
	if d := c.Pkt.Dst; d.Is4() && (d.IsMulticast() || d == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
		return Exclude
	}
	var info stunInfo
	if parseSTUN(c.Payload, c.L4() == IPProtoTCP, &info) != stunYes {
		if pktCount(c) > 5 {
			return Exclude
		}
		return Continue
	}
	st.pkts++
	stunLearn(c, st, &info)
	app := stunFlowApp(c, st, &info)
	stunClassify(c, app, ProtoSTUN)
	if info.data != nil {
		stunDemux(c, st, info.data, 1)
	}
	st.active, st.max = true, stunExtraPackets
	if !stunKeepGoing(c, st) {
		return Done
	}
	// Later packets may turn STUN into DTLS or SRTP, name the
	// application or bring the realm.
	c.Pending(FieldApp | FieldHostname)
	return More
}

// stunFlowApp adds the flow-level hints to what a message named.
func stunFlowApp(c *Ctx, st *stunState, info *stunInfo) ProtoID {
	app := info.app
	if info.turn {
		st.turn = true
	}
	r := &c.Flow.Result
	if r.Master == ProtoTelegram {
		app = ProtoTelegramVoip // STUN inside Telegram's relay framing
	}
	realApp := r.App != 0 && r.App != r.Master && stunRealApp(r.App)
	// Signal's relays listen on port 10000; a weak hint, so give the
	// other signatures a few packets first.
	if app == 0 && !st.turn && !realApp && pktCount(c) > 4 &&
		(c.ServerPort() == 10000 || c.ClientPort() == 10000) {
		app = ProtoSignalVoip
	}
	return app
}

// stunLearn records a message's metadata: realm, addresses, peers.
func stunLearn(c *Ctx, st *stunState, info *stunInfo) {
	st.addrs |= info.addrs
	r := &c.Flow.Result
	if info.realm != nil && r.Hostname == "" && stunRealmValid(info.realm) {
		// The realm is the TURN operator's domain; record it without the
		// catalog lookup, which would name the operator instead of the call.
		r.Hostname = c.e.intern.lower(info.realm)
	}
	// A relayed peer of a known application is that application's too.
	if r.App != 0 && r.App != r.Master && stunRealApp(r.App) {
		for _, p := range info.peers[:info.npeer] {
			c.e.realtime.stunPeers.put(p, r.App, c.Flow.LastSeen)
		}
	}
}

// stunClassify sets master/app the way nDPI's STUN code does: a missing
// application is looked up by address heuristics and in the cache of
// endpoints already seen in calls; a real application is cached.
func stunClassify(c *Ctx, app, master ProtoID) {
	r := &c.Flow.Result
	cli, srv := c.Flow.Client(), c.Flow.Server()
	if app == 0 && stunGoogleCall(cli, srv) {
		app = ProtoGoogleCall
	}
	if !stunRealApp(app) {
		cache := &c.e.realtime.stunPeers
		cached, ok := cache.get(cli, c.Flow.LastSeen)
		if !ok {
			cached, ok = cache.get(srv, c.Flow.LastSeen)
		}
		if ok {
			if app == ProtoRTP || master == ProtoRTP || master == ProtoRTCP {
				master = ProtoSRTP
			}
			app = cached
			r.Confidence = ConfPeerCache
		}
	}
	if stunRealApp(app) {
		c.e.realtime.stunPeers.put(cli, app, c.Flow.LastSeen)
		c.e.realtime.stunPeers.put(srv, app, c.Flow.LastSeen)
	}
	if r.Master == 0 || app != 0 {
		conf := r.Confidence
		c.Set(master, app)
		if conf == ConfPeerCache {
			r.Confidence = conf
		}
	}
}

// stunGoogleCall: Google Meet's TURN servers and ports
// (support.google.com/a/answer/1279090).
func stunGoogleCall(cli, srv netip.AddrPort) bool {
	port := func(p uint16) bool { return p == 3478 || (p >= 19302 && p <= 19309) }
	if !port(cli.Port()) && !port(srv.Port()) {
		return false
	}
	for _, a := range [2]netip.Addr{cli.Addr(), srv.Addr()} {
		if a.Is4() {
			b := a.As4()
			if (b[0] == 74 && b[1] == 125 && b[2] == 250) || (b[0] == 142 && b[1] == 250 && b[2] == 82) {
				return true
			}
		} else {
			b := a.As16()
			if p := binary.BigEndian.Uint64(b[:8]); p == 0x2001486048640005 || p == 0x2001486048640006 {
				return true // 2001:4860:4864:5::/64 and :6::/64
			}
		}
	}
	return false
}

// stunMaster is the master to keep when the application changes.
func stunMaster(r *Result) ProtoID {
	if r.Master != 0 && r.Master != ProtoTelegram {
		return r.Master
	}
	return ProtoSTUN
}

// stunTelegram starts watching a Telegram UDP relay flow: for calls its
// datagrams wrap STUN, DTLS and RTP (a 24-byte header whose last two bytes
// are the inner length), which turn it into STUN.TelegramVoip and the like.
func stunTelegram(c *Ctx) Status {
	st := &c.s.realtime.stun
	st.active, st.tgRelay, st.max = true, true, stunExtraPackets
	c.Pending(FieldApp | FieldHostname)
	return More
}

// stunTelegramExtra unwraps one relay datagram.
func stunTelegramExtra(c *Ctx, st *stunState) Status {
	b := c.Payload
	// Twelve 0xFF bytes at offset 16 mark Telegram's own control packets.
	if len(b) > 28 && !bytes.Equal(b[16:28], telegramMark[:]) {
		if n := int(binary.BigEndian.Uint16(b[22:])); 24+n <= len(b) {
			stunDemux(c, st, b[24:24+n], 0)
		}
	}
	st.checked++
	if st.checked >= st.max || !stunKeepGoing(c, st) {
		return Done
	}
	return More
}

var telegramMark = [12]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// stunExtra inspects one packet after classification.
func stunExtra(c *Ctx, st *stunState) Status {
	stunDemux(c, st, c.Payload, 0)
	st.checked++
	if st.checked >= st.max || !stunKeepGoing(c, st) {
		return Done
	}
	return More
}

// stunKeepGoing reports whether more packets can still add something.
func stunKeepGoing(c *Ctx, st *stunState) bool {
	r := &c.Flow.Result
	if !(r.App != 0 && r.App != r.Master && stunRealApp(r.App)) {
		return true
	}
	switch {
	case r.App == ProtoTelegramVoip:
		return true // every relayed peer is worth caching
	case st.addrs == stunAttrAll:
		return false
	case r.App == ProtoWhatsAppCall && r.Master == ProtoSRTP &&
		st.addrs&(stunAttrMapped|stunAttrRelayed) == stunAttrMapped|stunAttrRelayed:
		return false
	case r.App == ProtoZoom:
		return false
	}
	return true
}

// stunDemux looks at one datagram multiplexed on a STUN flow, by its first
// byte (RFC 9443 §3): STUN 0-3, DTLS 20-63, TURN ChannelData 64-79, RTP and
// RTCP 128-191. depth bounds recursion into relayed data.
func stunDemux(c *Ctx, st *stunState, b []byte, depth int) {
	if len(b) <= 1 || depth > 2 {
		return
	}
	r := &c.Flow.Result
	first := b[0]
	switch {
	case first <= 3 || (r.App == ProtoWhatsAppCall && len(b) >= 2 && stunWhatsAppType(binary.BigEndian.Uint16(b))):
		var info stunInfo
		if parseSTUN(b, c.L4() == IPProtoTCP, &info) != stunYes {
			return
		}
		stunLearn(c, st, &info)
		app := stunFlowApp(c, st, &info)
		cur := r.App
		if cur == 0 {
			cur = r.Master
		}
		real := r.App != 0 && r.App != r.Master && stunRealApp(r.App)
		if !(real && app == 0) && app != cur {
			stunClassify(c, app, stunMaster(r))
		}
		if info.data != nil {
			stunDemux(c, st, info.data, depth+1)
		}
	case first >= 20 && first <= 63:
		if !stunDTLSRecord(b) {
			return
		}
		if !st.dtls {
			// The flow becomes DTLS, keeping a real application (nDPI:
			// DTLS.GoogleCall); DTLS needs room for its handshake.
			st.dtls = true
			old := r.App
			if old == ProtoRTP {
				old = ProtoSRTP
			}
			if !stunRealApp(old) && old != ProtoSRTP {
				old = 0
			}
			r.App = 0
			c.Set(ProtoDTLS, old)
			st.max = uint8(min(255, int(st.max)+stunDTLSExtra))
		}
		stunObserveDTLS(c, b)
	case first >= 64 && first <= 79:
		// TURN ChannelData (RFC 8656 §12.4): channel, length, data.
		if st.turn && len(b) >= 4 {
			if n := int(binary.BigEndian.Uint16(b[2:])); n <= len(b)-4 {
				stunDemux(c, st, b[4:4+n], depth+1)
			}
		}
	case first >= 128 && first <= 191:
		if rtpKind(b) != rtpIsRTP {
			return
		}
		if r.App == ProtoRTP || r.App == ProtoRTCP || r.Master == ProtoSRTP {
			return
		}
		if r.App != 0 && r.App != r.Master {
			if r.Master != ProtoDTLS {
				stunClassify(c, r.App, ProtoSRTP) // STUN.App → SRTP.App
			}
			return
		}
		m := stunMaster(r)
		app := ProtoSRTP
		if m == ProtoSTUN {
			app = ProtoRTP
		}
		stunClassify(c, app, m)
	default:
		// [MS-TURN] 2.2.3: multiplexed TURN data on Teams flows.
		if r.App == ProtoSkypeTeamsCall && len(b) >= 12 && binary.BigEndian.Uint16(b) == 0xFF10 {
			if n := int(binary.BigEndian.Uint16(b[2:])); n == len(b)-4 && n >= 8 {
				stunDemux(c, st, b[12:12+n-8], depth+1)
			}
		}
	}
}

// stunObserveDTLS hands a DTLS datagram met on a STUN flow to the DTLS
// dissector's metadata reader (JA4, certificate), which the flow's owner
// would otherwise never run.
func stunObserveDTLS(c *Ctx, b []byte) {
	saved := c.Payload
	c.Payload = b
	dtlsObserve(c)
	c.Payload = saved
}

// stunDTLSRecord reports whether b starts with a DTLS record (RFC 9147 §4):
// change_cipher_spec, alert, handshake or application_data, version
// 1.0/1.2 on the wire (or OpenSSL's pre-RFC 0x0100), a non-empty length
// in bounds. Application data counts: calls are often captured mid-way.
func stunDTLSRecord(b []byte) bool {
	if len(b) < 13 || b[0] < 20 || b[0] > 23 {
		return false
	}
	switch v := binary.BigEndian.Uint16(b[1:]); v {
	case 0xfeff, 0xfefd, 0x0100:
	default:
		return false
	}
	n := int(binary.BigEndian.Uint16(b[11:]))
	return n > 0 && 13+n <= len(b)
}

// stunPeerCache remembers endpoints (address and port) seen in calls of a
// known application, so that their later STUN and media flows are named
// too. It is bounded (2-way set associative, replacing the older entry)
// and entries expire after stunPeerTTL of capture time.
type stunPeerCache struct {
	slots []stunPeerSlot
}

type stunPeerSlot struct {
	addr [16]byte
	port uint16
	app  ProtoID
	seen int64 // unix nanoseconds; 0 = empty
}

const (
	stunPeerSets = 512
	stunPeerTTL  = 300e9 // nDPI's default STUN cache TTL
)

func stunPeerIndex(a netip.AddrPort) (key [16]byte, set int) {
	key = a.Addr().As16()
	h := uint64(a.Port()) * 0x9e3779b97f4a7c15
	h ^= binary.LittleEndian.Uint64(key[:8])
	h *= 0x9e3779b97f4a7c15
	h ^= binary.LittleEndian.Uint64(key[8:])
	h *= 0x9e3779b97f4a7c15
	return key, int(h>>40) % stunPeerSets
}

func (pc *stunPeerCache) get(a netip.AddrPort, now int64) (ProtoID, bool) {
	if pc.slots == nil {
		return 0, false
	}
	key, set := stunPeerIndex(a)
	for i := set * 2; i < set*2+2; i++ {
		s := &pc.slots[i]
		if s.seen != 0 && s.port == a.Port() && s.addr == key {
			if now-s.seen > stunPeerTTL {
				*s = stunPeerSlot{}
				return 0, false
			}
			return s.app, true
		}
	}
	return 0, false
}

func (pc *stunPeerCache) put(a netip.AddrPort, app ProtoID, now int64) {
	if !a.IsValid() || app == 0 {
		return
	}
	if pc.slots == nil {
		pc.slots = make([]stunPeerSlot, stunPeerSets*2)
	}
	if now == 0 {
		now = 1
	}
	key, set := stunPeerIndex(a)
	victim := &pc.slots[set*2]
	for i := set * 2; i < set*2+2; i++ {
		s := &pc.slots[i]
		if s.seen != 0 && s.port == a.Port() && s.addr == key {
			victim = s
			break
		}
		if s.seen < victim.seen {
			victim = s
		}
	}
	*victim = stunPeerSlot{addr: key, port: a.Port(), app: app, seen: now}
}
