package dpi

import (
	"bytes"
	"encoding/binary"
	"net/netip"

	"ips/dpi/bencode"
	"ips/internal/ascii"
)

// BitTorrent in its many shapes:
//
//   - TCP peer wire handshake (BEP 3): "\x13BitTorrent protocol", 8
//     reserved bytes, the 20-byte info hash, the 20-byte peer id.
//   - uTP (BEP 29): the same peer protocol over a 20-byte UDP header.
//   - DHT (BEP 5): bencoded KRPC dictionaries over UDP.
//   - UDP tracker protocol (BEP 15).
//   - Local Service Discovery (BEP 14): "BT-SEARCH * HTTP/1.1" multicast.
//   - Encrypted flows (MSE/PE) look random; they are named when their
//     endpoints or host pair were seen speaking BitTorrent before (the
//     engine-wide peer cache), as nDPI does.

const btProtocol = "BitTorrent protocol"

type btState struct {
	flags  uint8
	dir    Dir   // direction of the handshake or of the lone 0x13 byte
	hashAt uint8 // offset of the info hash in the buffered handshake
	waited uint8 // packets waited for the info hash
	// uTP: connection id and sequence number of the first valid header
	// seen in each direction.
	utpSeen uint8 // bit per direction
	utpConn [2]uint16
	utpSeq  [2]uint16
}

const (
	btWaitHash = 1 << iota // classified; waiting for the info hash
	btLone13               // a one-byte 0x13 segment began the handshake
)

func dissectBitTorrent(c *Ctx) Status {
	if c.L4() == IPProtoTCP {
		return dissectBitTorrentTCP(c)
	}
	return dissectBitTorrentUDP(c)
}

func dissectBitTorrentTCP(c *Ctx) Status {
	st := &c.s.p2p.bt
	p := c.Payload
	if st.flags&btWaitHash != 0 {
		return btAwaitHash(c)
	}
	if st.flags&btLone13 != 0 && c.Dir == st.dir {
		// The handshake's length byte came alone; the rest follows.
		if hasPrefix(p, btProtocol) {
			return btHandshake(c, 19)
		}
		st.flags &^= btLone13
	}
	if len(p) == 1 && p[0] == 19 {
		st.flags |= btLone13
		st.dir = c.Dir
		return Continue
	}
	if len(p) >= 20 && p[0] == 19 && string(p[1:20]) == btProtocol {
		return btHandshake(c, 20)
	}
	return btFromCache(c)
}

// btHandshake classifies a flow whose direction c.Dir began with the peer
// handshake; the reserved bytes start at off and the info hash 8 later.
func btHandshake(c *Ctx, off int) Status {
	st := &c.s.p2p.bt
	st.dir = c.Dir
	hashAt := off + 8
	if p := c.Payload; len(p) >= hashAt+20 {
		btFound(c, p[hashAt:hashAt+20], ConfDPI)
		return Done
	}
	// The handshake was cut short of the info hash: keep this direction's
	// stream for a few more segments.
	btFound(c, nil, ConfDPI)
	if !c.Buffer() {
		return Done
	}
	st.flags |= btWaitHash
	st.hashAt = uint8(hashAt)
	c.Pending(FieldMeta) // only the info hash is still to come
	return More
}

// btAwaitHash reads the info hash once enough of the handshake arrived.
func btAwaitHash(c *Ctx) Status {
	st := &c.s.p2p.bt
	if c.Dir == st.dir && c.Buffering() {
		if b, at := c.Stream(), int(st.hashAt); len(b) >= at+20 {
			setInfoHash(c, b[at:at+20])
			c.Unbuffer()
			return Done
		}
	}
	if st.waited++; st.waited >= 4 || !c.Buffering() {
		c.Unbuffer()
		return Done
	}
	return More
}

func dissectBitTorrentUDP(c *Ctx) Status {
	p := c.Payload
	// BEP 15: the connect request opens with a fixed 64-bit protocol id.
	if len(p) >= 16 && binary.BigEndian.Uint64(p) == 0x41727101980 && be32(p, 8) == 0 {
		btFound(c, nil, ConfDPI)
		return Done
	}
	// BEP 15 announce: connection id, action 1, transaction id, info hash,
	// peer id (clients follow the "-XX1234-" convention), ...
	if len(p) >= 98 && be32(p, 8) == 1 && azureusPeerID(p[36:56]) {
		btFound(c, p[16:36], ConfDPI)
		return Done
	}
	if c.ServerPort() < 1024 || c.ClientPort() < 1024 || isBroadcast(c.Pkt.Dst) {
		// Peers use high ports; nDPI looks there only (trackers aside).
		return btFromCache(c)
	}
	switch {
	case hasPrefix(p, "BT-SEARCH * HTTP/1.1\r\n"):
		// BEP 14 Local Service Discovery.
		var h [20]byte
		if lsdInfoHash(p, &h) {
			btFound(c, h[:], ConfDPI)
		} else {
			btFound(c, nil, ConfDPI)
		}
		return Done
	case len(p) > 0 && p[0] == 'd':
		if ok, hash := krpc(p); ok {
			btFound(c, hash, ConfDPI)
			return Done
		}
		// A KRPC message cut short (snap length, fragments) still opens
		// with its arguments or response dictionary and the node id.
		if hasPrefix(p, "d1:ad2:id20:") || hasPrefix(p, "d1:rd2:id20:") {
			btFound(c, nil, ConfDPI)
			return Done
		}
	}
	if st := utpCheck(c); st != Exclude {
		return st
	}
	// The peer handshake inside some other UDP framing (uTP variants).
	if i := indexHandshake(p); i >= 0 {
		if i+48 <= len(p) {
			btFound(c, p[i+28:i+48], ConfDPI)
		} else {
			btFound(c, nil, ConfDPI)
		}
		return Done
	}
	return btFromCache(c)
}

// indexHandshake finds "\x13BitTorrent protocol" in p.
func indexHandshake(p []byte) int {
	for i := 0; i < len(p); {
		j := bytes.IndexByte(p[i:], 19)
		if j < 0 {
			return -1
		}
		if hasPrefix(p[i+j+1:], btProtocol) {
			return i + j
		}
		i += j + 1
	}
	return -1
}

// utpCheck applies BEP 29: a SYN is unmistakable on its own; other packet
// types need a second header that agrees on the connection id.
func utpCheck(c *Ctx) Status {
	p := c.Payload
	h, ok := parseUTP(p)
	if !ok {
		return Exclude
	}
	if h.typ == utpSyn {
		btFound(c, nil, ConfDPI)
		return Done
	}
	if h.typ == utpData && len(p) >= h.hlen+48 && p[h.hlen] == 19 && string(p[h.hlen+1:h.hlen+20]) == btProtocol {
		btFound(c, p[h.hlen+28:h.hlen+48], ConfDPI)
		return Done
	}
	st := &c.s.p2p.bt
	d := c.Dir
	if st.utpSeen&(1<<d) == 0 {
		st.utpSeen |= 1 << d
		st.utpConn[d], st.utpSeq[d] = h.conn, h.seq
		if o := 1 - d; st.utpSeen&(1<<o) != 0 {
			// The initiator sends with its receive id + 1, the responder
			// with the initiator's receive id: the two differ by one.
			if diff := h.conn - st.utpConn[o]; diff == 1 || diff == 0xffff || diff == 0 {
				btFound(c, nil, ConfDPI)
				return Done
			}
			return Exclude
		}
		return Continue
	}
	if h.conn != st.utpConn[d] {
		return Exclude
	}
	if h.seq-st.utpSeq[d] < 64 {
		btFound(c, nil, ConfDPI)
		return Done
	}
	return Exclude
}

// uTP packet types (BEP 29).
const (
	utpData  = 0
	utpFin   = 1
	utpState = 2
	utpReset = 3
	utpSyn   = 4
)

type utpHeader struct {
	typ, conn, seq uint16
	hlen           int
}

// parseUTP checks a uTP v1 header: version, type, the extension chain, and
// what each type implies about the rest (a SYN has no timestamp
// difference yet, only DATA carries payload).
func parseUTP(p []byte) (utpHeader, bool) {
	var h utpHeader
	if len(p) < 20 || p[0]&0x0f != 1 || p[0]>>4 > utpSyn {
		return h, false
	}
	h.typ = uint16(p[0] >> 4)
	h.conn = be16(p, 2)
	ts, tdiff, wnd := be32(p, 4), be32(p, 8), be32(p, 12)
	h.seq = be16(p, 16)
	off, ext := 20, p[1]
	for n := 0; ext != 0; n++ {
		// Known extensions: 1 selective ack, 2 extension bits; libtorrent
		// adds 3 (close reason).
		if ext > 3 || n >= 4 || off+2 > len(p) {
			return h, false
		}
		next, l := p[off], int(p[off+1])
		if l == 0 || (ext == 1 && l%4 != 0) || off+2+l > len(p) {
			return h, false
		}
		off += 2 + l
		ext = next
	}
	h.hlen = off
	switch {
	case h.conn == 0 || ts == 0:
		return h, false
	case h.typ == utpData:
		if len(p) == off {
			return h, false
		}
	case len(p) != off:
		return h, false
	case h.typ == utpSyn && tdiff != 0:
		return h, false
	}
	if wnd == 0 && len(p) != off {
		return h, false
	}
	return h, true
}

// krpc reports whether p is exactly one BEP 5 KRPC message: a dictionary
// with a transaction id "t" and a type "y" of q, r or e with the matching
// body. It returns the info hash of get_peers/announce_peer queries.
func krpc(p []byte) (ok bool, hash []byte) {
	if end, ok := bencode.Skip(p, 0); !ok || end != len(p) || p[0] != 'd' {
		return false, nil
	}
	if v, ok := bencode.Lookup(p, 0, "t"); !ok {
		return false, nil
	} else if _, ok := bencode.String(p, v); !ok {
		return false, nil
	}
	v, ok := bencode.Lookup(p, 0, "y")
	if !ok {
		return false, nil
	}
	y, ok := bencode.String(p, v)
	if !ok || len(y) != 1 {
		return false, nil
	}
	switch y[0] {
	case 'q':
		qv, ok := bencode.Lookup(p, 0, "q")
		if !ok {
			return false, nil
		}
		if q, ok := bencode.String(p, qv); !ok || len(q) == 0 {
			return false, nil
		}
		a, ok := bencode.Lookup(p, 0, "a")
		if !ok || p[a] != 'd' {
			return false, nil
		}
		if hv, ok := bencode.Lookup(p, a, "info_hash"); ok {
			if h, ok := bencode.String(p, hv); ok && len(h) == 20 {
				hash = h
			}
		}
		return true, hash
	case 'r':
		r, ok := bencode.Lookup(p, 0, "r")
		return ok && p[r] == 'd', nil
	case 'e':
		e, ok := bencode.Lookup(p, 0, "e")
		return ok && p[e] == 'l', nil
	}
	return false, nil
}

// azureusPeerID reports whether id follows the common "-XX1234-" peer id
// convention (two client letters, four version characters).
func azureusPeerID(id []byte) bool {
	if len(id) != 20 || id[0] != '-' || id[7] != '-' {
		return false
	}
	for _, ch := range id[1:7] {
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '.') {
			return false
		}
	}
	return true
}

// lsdInfoHash finds the first "Infohash:" header of a BEP 14 announce.
func lsdInfoHash(p []byte, h *[20]byte) bool {
	for i := 0; i+10 <= len(p); i++ {
		if p[i] != '\n' || !ascii.HasPrefix(p[i+1:], "infohash:") {
			continue
		}
		j := i + 10
		for j < len(p) && p[j] == ' ' {
			j++
		}
		if j+40 > len(p) {
			return false
		}
		for k := 0; k < 20; k++ {
			hi, ok1 := unhex(p[j+2*k])
			lo, ok2 := unhex(p[j+2*k+1])
			if !ok1 || !ok2 {
				return false
			}
			h[k] = hi<<4 | lo
		}
		return true
	}
	return false
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isBroadcast(a netip.Addr) bool {
	return a.Is4() && a.As4() == [4]byte{255, 255, 255, 255}
}

// btFound names the flow BitTorrent, records the info hash and remembers
// its endpoints in the peer cache.
func btFound(c *Ctx, hash []byte, conf Confidence) {
	c.Set(ProtoBitTorrent, 0)
	c.Flow.Result.Confidence = conf
	if len(hash) == 20 {
		setInfoHash(c, hash)
	}
	btRemember(c)
}

// btRemember puts the flow's endpoints and host pair in the peer cache,
// so their later (often encrypted) flows are recognised too.
func btRemember(c *Ctx) {
	cli, srv, cp, sp := flowEnds(c.Flow)
	now := c.Flow.LastSeen
	pc := &c.e.p2p.btPeers
	pc.add(endpointKey(cli, cp), now)
	pc.add(endpointKey(srv, sp), now)
	pc.add(pairKey(cli, srv), now)
}

func setInfoHash(c *Ctx, hash []byte) {
	m := c.Meta()
	copy(m.InfoHash[:], hash)
	m.HasInfoHash = true
}

// btFromCache names a flow that showed nothing recognisable BitTorrent
// when its endpoints or host pair spoke BitTorrent before. It decides at
// the flow's second payload packet, so that a dissector after this one
// that recognises the first packet has named the flow already.
func btFromCache(c *Ctx) Status {
	pc := &c.e.p2p.btPeers
	if pc.empty() {
		return Exclude
	}
	if c.Payloads(ToServer)+c.Payloads(ToClient) < 2 {
		return Continue
	}
	cli, srv, cp, sp := flowEnds(c.Flow)
	now := c.Flow.LastSeen
	if pc.has(endpointKey(srv, sp), now) || pc.has(endpointKey(cli, cp), now) || pc.has(pairKey(cli, srv), now) {
		c.Set(ProtoBitTorrent, 0)
		c.Flow.Result.Confidence = ConfPeerCache
		return Done
	}
	return Exclude
}

// peerCache is a bounded set of 64-bit keys with a time of last sighting:
// set-associative (a key lives in one bucket of peerWays slots; the
// stalest slot makes room), so it never grows and allocates only once.
type peerCache struct {
	slots []peerSlot
}

type peerSlot struct {
	key  uint64
	seen int64
}

const (
	peerBuckets = 4096 // power of two
	peerWays    = 4
	peerTTL     = int64(3600e9) // a peer is remembered for an hour
)

func (pc *peerCache) empty() bool { return pc.slots == nil }

func (pc *peerCache) bucket(key uint64) []peerSlot {
	b := int(key&(peerBuckets-1)) * peerWays
	return pc.slots[b : b+peerWays]
}

func (pc *peerCache) add(key uint64, now int64) {
	if pc.slots == nil {
		pc.slots = make([]peerSlot, peerBuckets*peerWays)
	}
	b := pc.bucket(key)
	old := 0
	for i := range b {
		if b[i].key == key {
			b[i].seen = now
			return
		}
		if b[i].seen < b[old].seen {
			old = i
		}
	}
	b[old] = peerSlot{key: key, seen: now}
}

func (pc *peerCache) has(key uint64, now int64) bool {
	if pc.slots == nil {
		return false
	}
	for _, s := range pc.bucket(key) {
		if s.key == key {
			return now-s.seen < peerTTL
		}
	}
	return false
}

func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// endpointKey identifies an address:port (whatever the transport: clients
// use one port number for TCP and uTP/DHT).
func endpointKey(a *[16]byte, port uint16) uint64 {
	h := mix64(binary.LittleEndian.Uint64(a[:8]) ^ 0x9e3779b97f4a7c15)
	h = mix64(h ^ binary.LittleEndian.Uint64(a[8:]))
	return mix64(h^uint64(port)) | 1 // never 0, the empty slot
}

// pairKey identifies two hosts, in either order.
func pairKey(a, b *[16]byte) uint64 {
	if compare16(a, b) > 0 {
		a, b = b, a
	}
	h := mix64(binary.LittleEndian.Uint64(a[:8]) ^ 0x51afd7ed558ccd1f)
	h = mix64(h ^ binary.LittleEndian.Uint64(a[8:]))
	h = mix64(h ^ binary.LittleEndian.Uint64(b[:8]))
	h = mix64(h ^ binary.LittleEndian.Uint64(b[8:]))
	return h | 1
}
