package dpi

import (
	"bytes"
	"testing"
)

var btHash = []byte("\xdc\xfc\xdc\xcf\xb9\xe6\x70\xcc\xc3\xdd\x40\xc7\x8c\x16\x1f\x2b\xea\x24\x31\x26")

// btHandshakeMsg is BEP 3's handshake: pstrlen 19, "BitTorrent protocol",
// 8 reserved bytes (here the extension-protocol and fast bits), info hash,
// peer id.
func btHandshakeMsg() []byte {
	return cat([]byte{19}, []byte(btProtocol), []byte{0, 0, 0, 0, 0, 0x10, 0, 5}, btHash, []byte("-UM1860-AAAAAAAAAAAA"))
}

// utpHdr builds a BEP 29 header: type/version, extension, connection id,
// timestamp, timestamp difference, window, seq_nr, ack_nr.
func utpHdr(typ byte, ext byte, conn uint16, ts, tdiff, wnd uint32, seq, ack uint16) []byte {
	return cat([]byte{typ<<4 | 1, ext}, u16(conn), u32(ts), u32(tdiff), u32(wnd), u16(seq), u16(ack))
}

func TestBitTorrentTCP(t *testing.T) {
	hs := btHandshakeMsg()
	cases := []struct {
		name string
		pkts []pkt
		app  string
		hash bool
	}{
		{"handshake (BEP 3)", []pkt{c2s(hs)}, "BitTorrent", true},
		{"handshake answered first by the server", []pkt{s2c(hs)}, "BitTorrent", true},
		{"length byte in its own segment", []pkt{c2s(hs[:1]), c2s(hs[1:])}, "BitTorrent", true},
		{"handshake split before the info hash", []pkt{c2s(hs[:30]), c2s(hs[30:])}, "BitTorrent", true},
		{"wrong protocol string", []pkt{c2s(cat([]byte{19}, []byte("BitTorrent protocoX"), fill(48, 0)))}, "Unknown", false},
		{"wrong length byte", []pkt{c2s(cat([]byte{18}, hs[1:]))}, "Unknown", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := play(t, IPProtoTCP, "192.168.1.3:52915", "198.100.146.9:60163", c.pkts...)
			wantApp(t, r, c.app)
			if c.hash {
				if r.Meta == nil || !r.Meta.HasInfoHash || !bytes.Equal(r.Meta.InfoHash[:], btHash) {
					t.Errorf("info hash not recorded: %+v", r.Meta)
				}
				if r.State != Classified || r.Confidence != ConfDPI {
					t.Errorf("state %v confidence %v", r.State, r.Confidence)
				}
			}
		})
	}
}

func TestBitTorrentUDP(t *testing.T) {
	ping := []byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe")
	getPeers := cat([]byte("d1:ad2:id20:abcdefghij01234567899:info_hash20:"), btHash, []byte("e1:q9:get_peers1:t2:aa1:y1:qe"))
	resp := []byte("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re")
	respIP := []byte("d2:ip6:\x0a\x00\x00\x01\x1a\xe11:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re")
	krpcErr := []byte("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee")
	// BEP 15: connect request (protocol id, action 0, transaction id).
	connect := cat(unhexs(t, "0000041727101980"), u32(0), u32(0x1234abcd))
	// Announce: connection id, action 1, transaction id, info hash, peer
	// id, downloaded, left, uploaded, event, ip, key, num_want, port.
	announce := cat(fill(8, 0x40), u32(1), u32(7), btHash, []byte("-qB4250-abcdefghijkl"),
		make([]byte, 24), u32(2), u32(0), u32(99), u32(0xffffffff), u16(6881))
	lsd := []byte("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n" +
		"Infohash: DCFCDCCFB9E670CCC3DD40C78C161F2BEA243126\r\ncookie: x\r\n\r\n\r\n")
	syn := utpHdr(utpSyn, 2, 0x3a7c, 0x1111, 0, 0x100000, 1, 0)
	syn = cat(syn, []byte{0, 8}, make([]byte, 8)) // extension bits, then none
	syn[1] = 2
	state := utpHdr(utpState, 0, 0x3a7c, 0x2222, 0x10, 0x100000, 0x50, 1)
	data := cat(utpHdr(utpData, 0, 0x3a7d, 0x3333, 0x10, 0x100000, 2, 0x50), btHandshakeMsg())

	cases := []struct {
		name     string
		cli, srv string
		pkts     []pkt
		app      string
		hash     bool
	}{
		{"DHT ping (BEP 5)", "10.0.0.1:6881", "10.0.0.2:51413", []pkt{c2s(ping)}, "BitTorrent", false},
		{"DHT get_peers carries the info hash", "10.0.0.1:6881", "10.0.0.2:41000", []pkt{c2s(getPeers)}, "BitTorrent", true},
		{"DHT response", "10.0.0.1:6881", "10.0.0.2:41000", []pkt{s2c(resp)}, "BitTorrent", false},
		{"DHT error", "10.0.0.1:6881", "10.0.0.2:41000", []pkt{s2c(krpcErr)}, "BitTorrent", false},
		{"DHT response with the requester's address (BEP 42)", "10.0.0.1:6881", "10.0.0.2:41000", []pkt{s2c(respIP)}, "BitTorrent", false},
		{"bencode with trailing bytes", "10.0.0.1:6881", "10.0.0.2:41000", []pkt{c2s(cat(respIP, []byte("x")))}, "Unknown", false},
		{"DHT query cut short", "10.0.0.1:6881", "10.0.0.2:41000", []pkt{c2s(ping[:30])}, "BitTorrent", false},
		{"handshake in another UDP framing", "10.0.0.1:50000", "10.0.0.2:50001", []pkt{c2s(cat(fill(7, 0x90), btHandshakeMsg()))}, "BitTorrent", true},
		{"bencoded but not KRPC", "10.0.0.1:6881", "10.0.0.2:41000", []pkt{c2s([]byte("d3:cow3:mooe"))}, "Unknown", false},
		{"DHT on a low port", "10.0.0.1:53", "10.0.0.2:41000", []pkt{c2s(ping)}, "DNS", false},
		{"UDP tracker connect (BEP 15)", "10.0.0.1:40000", "10.0.0.2:80", []pkt{c2s(connect)}, "BitTorrent", false},
		{"UDP tracker announce", "10.0.0.1:40000", "10.0.0.2:80", []pkt{c2s(announce)}, "BitTorrent", true},
		{"LSD (BEP 14)", "192.168.0.102:6771", "239.192.152.143:6771", []pkt{c2s(lsd)}, "BitTorrent", true},
		{"uTP SYN (BEP 29)", "10.0.0.1:50000", "10.0.0.2:50001", []pkt{c2s(syn)}, "BitTorrent", false},
		{"uTP STATE then DATA", "10.0.0.1:50000", "10.0.0.2:50001", []pkt{s2c(state), c2s(utpHdr(utpData, 0, 0x3a7d, 0x3333, 0x10, 0x100000, 2, 0x50)[:20])}, "Unknown", false},
		{"uTP STATE and DATA with ids one apart", "10.0.0.1:50000", "10.0.0.2:50001", []pkt{s2c(state), c2s(cat(utpHdr(utpData, 0, 0x3a7d, 0x3333, 0x10, 0x100000, 2, 0x50), fill(100, 1)))}, "BitTorrent", false},
		{"uTP DATA carrying the handshake", "10.0.0.1:50000", "10.0.0.2:50001", []pkt{c2s(data)}, "BitTorrent", true},
		{"uTP STATE ids far apart", "10.0.0.1:50000", "10.0.0.2:50001", []pkt{s2c(state), c2s(utpHdr(utpState, 0, 0x9000, 0x3333, 0x10, 0x100000, 2, 0x50))}, "Unknown", false},
		{"uTP version 2", "10.0.0.1:50000", "10.0.0.2:50001", []pkt{c2s(cat([]byte{utpSyn<<4 | 2}, syn[1:]))}, "Unknown", false},
		{"uTP SYN with a timestamp difference", "10.0.0.1:50000", "10.0.0.2:50001", []pkt{c2s(utpHdr(utpSyn, 0, 0x3a7c, 0x1111, 5, 0x100000, 1, 0))}, "Unknown", false},
		{"uTP SYN with a bad extension", "10.0.0.1:50000", "10.0.0.2:50001", []pkt{c2s(cat(utpHdr(utpSyn, 9, 0x3a7c, 0x1111, 0, 0x100000, 1, 0), []byte{0, 4, 1, 2, 3, 4}))}, "Unknown", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := play(t, IPProtoUDP, c.cli, c.srv, c.pkts...)
			if c.app == "DNS" {
				if r.Master == ProtoBitTorrent {
					t.Errorf("named BitTorrent on a low port")
				}
				return
			}
			// Unknown flows are still inspecting after a packet or two.
			if c.app == "Unknown" && r.Master == ProtoBitTorrent {
				t.Errorf("named BitTorrent")
				return
			}
			if c.app != "Unknown" {
				wantApp(t, r, c.app)
			}
			if c.hash && (r.Meta == nil || !bytes.Equal(r.Meta.InfoHash[:], btHash)) {
				t.Errorf("info hash not recorded: %+v", r.Meta)
			}
		})
	}
}

// Encrypted (MSE) flows show nothing, but once a peer spoke BitTorrent in
// the clear, its later flows are named from the engine-wide peer cache.
func TestBitTorrentPeerCache(t *testing.T) {
	s := newSim(t, IPProtoTCP, "192.168.1.3:52915", "198.100.146.9:60163")
	wantApp(t, s.play(c2s(btHandshakeMsg())), "BitTorrent")

	random := func(seed byte) []byte { return fill(96+int(seed), seed) }
	// Same peer, new local port: the peer's address:port is remembered.
	r := s.next(IPProtoTCP, "192.168.1.3:52999", "198.100.146.9:60163").play(c2s(random(1)), s2c(random(2)))
	wantApp(t, r, "BitTorrent")
	if r.Confidence != ConfPeerCache {
		t.Errorf("confidence %v, want peer_cache", r.Confidence)
	}
	// Same two hosts, other ports: the host pair is remembered.
	r = s.next(IPProtoUDP, "192.168.1.3:40001", "198.100.146.9:40002").play(c2s(random(3)), s2c(random(4)))
	wantApp(t, r, "BitTorrent")
	// Another host: nothing known.
	r = s.next(IPProtoTCP, "192.168.1.3:53000", "203.0.113.5:60163").play(c2s(random(5)), s2c(random(6)))
	if r.Master == ProtoBitTorrent {
		t.Error("an unrelated flow was named from the cache")
	}
	// A flow another dissector recognises keeps its own name.
	r = s.next(IPProtoTCP, "192.168.1.3:53001", "198.100.146.9:1723").play(c2s(pptpSCCRQ()))
	wantApp(t, r, "PPTP")
}

func TestPeerCacheBounded(t *testing.T) {
	var pc peerCache
	for i := uint64(0); i < peerBuckets*peerWays*4; i++ {
		pc.add(mix64(i)|1, int64(i))
	}
	if len(pc.slots) != peerBuckets*peerWays {
		t.Fatalf("cache grew to %d slots", len(pc.slots))
	}
	last := mix64(peerBuckets*peerWays*4-1) | 1
	if !pc.has(last, peerBuckets*peerWays*4) {
		t.Error("the newest key was evicted")
	}
	if pc.has(last, peerBuckets*peerWays*4+peerTTL) {
		t.Error("a key outlived its TTL")
	}
	a, b := [16]byte{1}, [16]byte{2}
	if pairKey(&a, &b) != pairKey(&b, &a) {
		t.Error("pair key depends on order")
	}
	if endpointKey(&a, 1) == endpointKey(&a, 2) {
		t.Error("endpoint keys ignore the port")
	}
}

func TestBitTorrentAllocs(t *testing.T) {
	if n := allocsPerFlow(t, IPProtoTCP, "192.168.1.3:52915", "198.100.146.9:60163", c2s(btHandshakeMsg()), s2c(btHandshakeMsg())); n != 0 {
		t.Errorf("TCP handshake: %v allocs per flow", n)
	}
	get := cat([]byte("d1:ad2:id20:abcdefghij01234567899:info_hash20:"), btHash, []byte("e1:q9:get_peers1:t2:aa1:y1:qe"))
	if n := allocsPerFlow(t, IPProtoUDP, "10.0.0.1:6881", "10.0.0.2:41000", c2s(get)); n != 0 {
		t.Errorf("DHT: %v allocs per flow", n)
	}
	// An unknown flow in an engine whose peer cache is filled.
	if n := allocsPerFlow(t, IPProtoUDP, "10.0.0.1:6881", "10.0.0.2:41000", c2s(get), c2s(fill(200, 3)), s2c(fill(120, 9))); n != 0 {
		t.Errorf("cache lookups: %v allocs per flow", n)
	}
}

func FuzzBitTorrentParsers(f *testing.F) {
	f.Add([]byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"))
	f.Add(cat(utpHdr(utpSyn, 1, 7, 1, 0, 1, 1, 0), []byte{0, 4, 0, 0, 0, 1}))
	f.Add([]byte("BT-SEARCH * HTTP/1.1\r\nInfohash: DCFCDCCFB9E670CCC3DD40C78C161F2BEA243126\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, ok := parseUTP(b); ok && (h.hlen < 20 || h.hlen > len(b)) {
			t.Fatalf("header length %d of %d", h.hlen, len(b))
		}
		if ok, hash := krpc(b); ok && hash != nil && len(hash) != 20 {
			t.Fatalf("hash of %d bytes", len(hash))
		}
		var h [20]byte
		lsdInfoHash(b, &h)
		if len(b) >= 20 {
			azureusPeerID(b[:20])
		}
	})
}

// While the info hash is still to come, the flow is BitTorrent already and
// only metadata is pending, so a policy can act on it.
func TestBitTorrentPartialWhileWaitingForHash(t *testing.T) {
	s := newSim(t, IPProtoTCP, "192.168.1.3:52915", "198.100.146.9:60163")
	r := s.play(c2s(btHandshakeMsg()[:30]))
	if r.State != Partial || r.Master != ProtoBitTorrent || r.Pending != FieldMeta {
		t.Errorf("state %v master %v pending %v", r.State, r.Master, r.Pending)
	}
}

func TestIndexHandshake(t *testing.T) {
	hs := btHandshakeMsg()
	for _, c := range []struct {
		in   []byte
		want int
	}{
		{hs, 0}, {cat([]byte{19, 19, 0}, hs), 3}, {hs[:19], -1}, {[]byte{19}, -1}, {nil, -1},
	} {
		if got := indexHandshake(c.in); got != c.want {
			t.Errorf("indexHandshake(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}
