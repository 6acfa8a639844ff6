package dpi

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"ips/dpi/quic"
)

// The client Initial packets of RFC 9001 Appendix A.2 (QUIC v1) and RFC
// 9369 Appendix A.2 (v2); see dpi/quic's tests for the full vectors.
func rfcInitial(t testing.TB, version uint32) []byte {
	t.Helper()
	dcid, _ := hex.DecodeString("8394c8f03e515708")
	k, err := quic.ClientInitialKeys(version, dcid)
	if err != nil {
		t.Fatal(err)
	}
	frames, _ := hex.DecodeString(strings.Join(strings.Fields(rfc9001Frames), ""))
	payload := make([]byte, 1162)
	copy(payload, frames)
	hdr := "c300000001088394c8f03e5157080000449e00000002"
	if version == quic.Version2 {
		hdr = "d36b3343cf088394c8f03e5157080000449e00000002"
	}
	h, _ := hex.DecodeString(hdr)
	return k.Seal(nil, h, payload, 18, 4, 2)
}

// rfc9001Frames: the CRYPTO frame of RFC 9001 A.2 (ClientHello for
// example.com, ALPN "alpn").
const rfc9001Frames = `060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868
04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578
616d706c652e636f6dff01000100000a00080006001d00170018001000070005
04616c706e000500050100000000003300260024001d00209370b2c9caa47fba
baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400
0d0010000e0403050306030203080408050806002d00020101001c0002400100
3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000
75300901100f088394c8f03e51570806048000ffff`

func TestQUICInitialRFCVectors(t *testing.T) {
	for _, v := range []uint32{quic.Version1, quic.Version2} {
		s := newSim(t, IPProtoUDP, "10.0.0.1:50000", "192.0.2.9:443")
		f := s.send(ToServer, rfcInitial(t, v))
		r := &f.Result
		if r.Master != ProtoQUIC || r.State != Classified || r.Hostname != "example.com" || r.ALPN != "alpn" {
			t.Fatalf("%#x: %+v", v, r)
		}
		// nDPI's JA4 reading: ALPN "alpn" gives "al" (FoxIO would say "an").
		if r.JA4 != "q13d0211al_62ed6f6ca7ad_4d634acda6c0" || r.TLSVersion != 0x0304 || r.DPIPackets != 1 {
			t.Errorf("%#x: JA4 %s version %#x packets %d", v, r.JA4, r.TLSVersion, r.DPIPackets)
		}
	}
}

// quicInitialPacket seals a v1 client Initial carrying frames, padded to
// 1200 bytes.
func quicInitialPacket(t testing.TB, dcid []byte, pn uint32, frames []byte) []byte {
	return quicInitialPacketV(t, quic.Version1, dcid, pn, frames)
}

func quicInitialPacketV(t testing.TB, version uint32, dcid []byte, pn uint32, frames []byte) []byte {
	return quicInitialPacketKeys(t, version, dcid, dcid, pn, frames)
}

// quicInitialPacketKeys seals with the keys of keyDCID, the Destination
// Connection ID of the connection's first Initial (RFC 9001 §5.2).
func quicInitialPacketKeys(t testing.TB, version uint32, dcid, keyDCID []byte, pn uint32, frames []byte) []byte {
	k, err := quic.ClientInitialKeys(version, keyDCID)
	if err != nil {
		t.Fatal(err)
	}
	hdrLen := 1 + 4 + 1 + len(dcid) + 1 + 1 + 2 + 4
	payloadLen := max(len(frames), 1200-hdrLen-16)
	payload := make([]byte, payloadLen) // zero bytes are PADDING frames
	copy(payload, frames)
	h := binary.BigEndian.AppendUint32([]byte{0xc3}, version)
	h = append(h, byte(len(dcid)))
	h = append(h, dcid...)
	h = append(h, 0, 0) // no SCID, no token
	h = binary.BigEndian.AppendUint16(h, 0x4000|uint16(4+payloadLen+16))
	h = binary.BigEndian.AppendUint32(h, pn)
	return k.Seal(nil, h, payload, hdrLen-4, 4, uint64(pn))
}

func cryptoFrame(off int, data []byte) []byte {
	f := []byte{0x06}
	f = binary.BigEndian.AppendUint32(f, 0x80000000|uint32(off))
	f = binary.BigEndian.AppendUint16(f, 0x4000|uint16(len(data)))
	return append(f, data...)
}

// TestQUICClientHelloOverTwoInitialsOutOfOrder: a ClientHello too big for
// one packet (as with post-quantum key shares) arrives in two Initials,
// the second first, with PING and PADDING around the CRYPTO frames.
func TestQUICClientHelloOverTwoInitialsOutOfOrder(t *testing.T) {
	spec := chrome13("www.youtube.com")
	spec.alpn = []string{"h3"}
	spec.versions = []uint16{0x0304}
	spec.extra = append(spec.extra, tlsExt{0x39, make([]byte, 60)}, tlsExt{0x11ec, make([]byte, 1216)})
	ch := clientHelloMsg(spec)
	if len(ch) < 1400 {
		t.Fatalf("hello of %d bytes fits one packet", len(ch))
	}
	dcid := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	cut := 900
	second := append([]byte{0x01}, cryptoFrame(cut, ch[cut:])...) // PING, CRYPTO
	first := cryptoFrame(0, ch[:cut])
	s := newSim(t, IPProtoUDP, "10.0.0.1:50001", "192.0.2.9:443")
	f := s.send(ToServer, quicInitialPacket(t, dcid, 1, second))
	r := &f.Result
	if r.Master != ProtoQUIC || r.State != Partial || r.Hostname != "" || r.Pending&FieldHostname == 0 {
		t.Fatalf("after the second half: %+v", r)
	}
	s.send(ToClient, make([]byte, 60)) // the server's packets are not read
	f = s.send(ToServer, quicInitialPacket(t, dcid, 0, first))
	r = &f.Result
	if r.State != Classified || r.Hostname != "www.youtube.com" || r.AppName() != "QUIC.YouTube" || r.ALPN != "h3" {
		t.Fatalf("after both halves: %+v (%s)", r, r.AppName())
	}
	if !strings.HasPrefix(r.JA4, "q13d0710h0_") {
		t.Errorf("JA4 %s", r.JA4)
	}
	if f.s != nil || s.e.streamsOut != 0 {
		t.Errorf("pooled buffer not returned (%d out)", s.e.streamsOut)
	}
}

// TestQUICConnectionIDChanges: the keys of a connection's Initials follow
// from the DCID of its first Initial, whatever DCID later ones carry (the
// server's choice, RFC 9000 §7.2), until a Retry makes the client start
// again with the DCID the server gave it (RFC 9001 §5.2). Open does not
// check tags: the dissector sees wrong keys in frames that do not parse.
func TestQUICConnectionIDChanges(t *testing.T) {
	spec := chrome13("www.youtube.com")
	spec.alpn = []string{"h3"}
	ch := clientHelloMsg(spec)
	first := []byte{1, 1, 1, 1, 1, 1, 1, 1}
	server := []byte{2, 2, 2, 2, 2, 2, 2, 2}
	cut := 100
	for _, retry := range []bool{false, true} {
		s := newSim(t, IPProtoUDP, "10.0.0.1:50002", "192.0.2.9:443")
		f := s.send(ToServer, quicInitialPacket(t, first, 0, cryptoFrame(0, ch[:cut])))
		if r := &f.Result; r.Master != ProtoQUIC || r.State != Partial {
			t.Fatalf("retry %v, first part: %+v", retry, r)
		}
		var pkt []byte
		if retry {
			pkt = quicInitialPacket(t, server, 0, cryptoFrame(0, ch)) // all again, new keys
		} else {
			pkt = quicInitialPacketKeys(t, quic.Version1, server, first, 1, cryptoFrame(cut, ch[cut:]))
		}
		f = s.send(ToServer, pkt)
		r := &f.Result
		if r.State != Classified || r.Hostname != "www.youtube.com" || r.ALPN != "h3" {
			t.Errorf("retry %v: %+v", retry, r)
		}
	}
}

// TestQUICCoalescedAnd0RTTFirst: a 0-RTT packet overtakes the Initial,
// then a datagram holds an Initial and a 0-RTT packet.
func TestQUICCoalescedAnd0RTTFirst(t *testing.T) {
	dcid := []byte{9, 9, 9, 9, 9, 9, 9, 9}
	zeroRTT := []byte{0xd3, 0, 0, 0, 1, 8, 9, 9, 9, 9, 9, 9, 9, 9, 0, 0x40, 0x20}
	zeroRTT = append(zeroRTT, make([]byte, 0x20)...)
	s := newSim(t, IPProtoUDP, "10.0.0.1:50002", "192.0.2.9:443")
	if f := s.send(ToServer, zeroRTT); f.Result.Master != 0 || f.s.excluded[0]&2 != 0 {
		t.Fatalf("0-RTT first: %+v", f.Result)
	}
	ch := clientHelloMsg(chrome13("www.google.com"))
	dgram := append(quicInitialPacket(t, dcid, 0, cryptoFrame(0, ch)), zeroRTT...)
	f := s.send(ToServer, dgram)
	if f.Result.AppName() != "QUIC.Google" || f.Result.DPIPackets != 2 {
		t.Errorf("%s after %d packets", f.Result.AppName(), f.Result.DPIPackets)
	}
}

// TestGoogleQUICQ046: a clear CHLO on stream 1 (Chromium's gQUIC wire
// format).
func TestGoogleQUICQ046(t *testing.T) {
	chlo := []byte("CHLO\x02\x00\x00\x00SNI\x00\x0f\x00\x00\x00UAID\x27\x00\x00\x00www.youtube.comChrome/74.0 Linux x86_64")
	p := []byte{0xc3, 'Q', '0', '4', '6', 0x50, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1}
	p = append(p, make([]byte, 12)...) // message authentication hash
	p = append(p, 0xa0, 0x01)
	p = binary.BigEndian.AppendUint16(p, uint16(len(chlo)))
	p = append(p, chlo...)
	p = append(p, make([]byte, 1350-len(p))...)
	s := newSim(t, IPProtoUDP, "10.0.0.1:50003", "192.0.2.9:443")
	f := s.send(ToServer, p)
	r := &f.Result
	if r.AppName() != "QUIC.YouTube" || r.UserAgent != "Chrome/74.0 Linux x86_64" || r.State != Classified {
		t.Errorf("%s %q %+v", r.AppName(), r.UserAgent, r)
	}
}

// TestGoogleQUICEncrypted: Q050 (CHLO) and T051 (TLS) protect their
// Initials like IETF QUIC, with their own salts, and number the CRYPTO
// frame 0x08.
func TestGoogleQUICEncrypted(t *testing.T) {
	dcid := []byte{8, 7, 6, 5, 4, 3, 2, 1}
	gframe := func(data []byte) []byte {
		f := []byte{0x08, 0x00}
		f = binary.BigEndian.AppendUint16(f, 0x4000|uint16(len(data)))
		return append(f, data...)
	}
	chlo := []byte("CHLO\x01\x00\x00\x00SNI\x00\x0e\x00\x00\x00www.google.com")
	s := newSim(t, IPProtoUDP, "10.0.0.1:50020", "192.0.2.9:443")
	f := s.send(ToServer, quicInitialPacketV(t, quic.VersionQ050, dcid, 1, gframe(chlo)))
	if f.Result.AppName() != "QUIC.Google" || f.Result.Hostname != "www.google.com" {
		t.Errorf("Q050: %s %q", f.Result.AppName(), f.Result.Hostname)
	}
	spec := chrome13("www.youtube.com")
	spec.alpn = []string{"h3-T051"}
	s = newSim(t, IPProtoUDP, "10.0.0.1:50021", "192.0.2.9:443")
	f = s.send(ToServer, quicInitialPacketV(t, quic.VersionT051, dcid, 1, gframe(clientHelloMsg(spec))))
	if f.Result.AppName() != "QUIC.YouTube" || !strings.HasPrefix(f.Result.JA4, "q13d0708h3_") {
		t.Errorf("T051: %s %s", f.Result.AppName(), f.Result.JA4)
	}
}

func TestQUICRejectsOtherUDP(t *testing.T) {
	for _, p := range [][]byte{
		make([]byte, 1300), // zeros
		append([]byte{0xc3, 0x12, 0x34, 0x56, 0x78}, make([]byte, 1300)...), // unknown version
		append([]byte{0xc3, 0, 0, 0, 1, 8}, make([]byte, 100)...),           // too short for an Initial
	} {
		s := newSim(t, IPProtoUDP, "10.0.0.1:50004", "192.0.2.9:443")
		if f := s.send(ToServer, p); f.Result.Master == ProtoQUIC {
			t.Errorf("%x… classified QUIC", p[:6])
		}
	}
}

// TestQUICAllocsPerConnection: neither a new QUIC connection (key
// derivation, decryption) nor later packets allocate.
func TestQUICAllocsPerConnection(t *testing.T) {
	pkt := rfcInitial(t, quic.Version1)
	e := NewEngine(Config{})
	var p Packet
	now := simTime.UnixNano()
	port := uint16(1024)
	conns := make([][]byte, 60)
	for i := range conns {
		conns[i] = buildIP(nil, IPProtoUDP, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port+uint16(i)),
			netip.MustParseAddrPort("192.0.2.9:443"), 0, 0, 0, pkt)
	}
	n := 0
	newConn := func() {
		_ = p.DecodeIP(conns[n])
		n++
		now += 1e6
		e.Process(&p, now)
	}
	newConn()
	perConn := testing.AllocsPerRun(50, newConn)
	if perConn != 0 {
		t.Errorf("%v allocations per QUIC connection", perConn)
	}
	later := buildIP(nil, IPProtoUDP, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port),
		netip.MustParseAddrPort("192.0.2.9:443"), 0, 0, 0, make([]byte, 100))
	if a := testing.AllocsPerRun(100, func() { _ = p.DecodeIP(later); now += 1e6; e.Process(&p, now) }); a != 0 {
		t.Errorf("%v allocations per packet of a classified QUIC flow", a)
	}
}

func BenchmarkQUICNewConnection(b *testing.B) {
	pkt := rfcInitial(b, quic.Version1)
	e := NewEngine(Config{})
	var p Packet
	now := simTime.UnixNano()
	bufs := make([][]byte, 4096)
	for i := range bufs {
		bufs[i] = buildIP(nil, IPProtoUDP, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1024+i)),
			netip.MustParseAddrPort("192.0.2.9:443"), 0, 0, 0, pkt)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = p.DecodeIP(bufs[i%len(bufs)])
		i++
		now += 1e9 // old connections expire
		e.Process(&p, now)
	}
}
