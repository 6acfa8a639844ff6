package dpi

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

func TestParseSTUN(t *testing.T) {
	tcpFramed := func(m []byte) []byte { return append(rtBE16(uint16(len(m))), m...) } // RFC 4571 §2
	msTURN := func(m []byte) []byte {                                                  // [MS-TURN] 2.2.3: 0xFF10, length, 8 more bytes
		h := rtCat(rtBE16(0xFF10), rtBE16(uint16(len(m)+8)), rtRepeat(0, 8))
		return append(h, m...)
	}
	realm := func(s string) stunAttr { return stunAttr{0x0014, []byte(s)} }
	cases := []struct {
		name  string
		b     []byte
		tcp   bool
		want  int
		app   ProtoID
		turn  bool
		addrs uint8
	}{
		// RFC 8489 §6: a Binding request is type 0x0001 with the magic cookie.
		{name: "binding request", b: bindingRequest(stunAttr{0x8022, []byte("STUN test client")}), want: stunYes},
		// RFC 5769 §2.2: Binding success response with XOR-MAPPED-ADDRESS.
		{name: "binding response", b: bindingResponse(xorMapped4), want: stunYes, addrs: stunAttrMapped},
		// RFC 3489 §11.1: classic STUN has no cookie; attributes must tile the body.
		{name: "classic binding", b: stunMsg(0x0001, false, rfc5769TxID, stunAttr{0x0003, rtBE32(0)}), want: stunYes},
		{name: "classic bad type", b: stunMsg(0x0009, false, rfc5769TxID), want: stunNo},
		// RFC 8656 §7.1: Allocate (method 3) makes the flow a TURN flow.
		{name: "allocate", b: stunMsg(0x0003, true, rfc5769TxID, stunAttr{0x0019, []byte{17, 0, 0, 0}}), want: stunYes, turn: true},
		// RFC 8656 §18.5: XOR-RELAYED-ADDRESS in the Allocate success response.
		{name: "allocate response", b: stunMsg(0x0103, true, rfc5769TxID, stunAttr{0x0016, xorMapped4.val}, xorMapped4), want: stunYes, turn: true, addrs: stunAttrRelayed | stunAttrMapped},
		// RFC 8489 §5: the two most significant bits must be zero.
		{name: "top bits set", b: func() []byte { m := bindingRequest(); m[0] |= 0xC0; return m }(), want: stunInvalid},
		{name: "length mismatch", b: append(bindingRequest(), 0, 0, 0, 0), want: stunInvalid},
		{name: "short", b: bindingRequest()[:19], want: stunInvalid},
		{name: "zero type", b: stunMsg(0x0000, true, rfc5769TxID), want: stunInvalid},
		// RFC 4571 framing and trailing messages on TCP; the cookie is required there.
		{name: "tcp framed", b: tcpFramed(bindingRequest()), tcp: true, want: stunYes},
		{name: "tcp two messages", b: rtCat(bindingRequest(), bindingResponse()), tcp: true, want: stunYes},
		{name: "tcp classic", b: stunMsg(0x0001, false, rfc5769TxID), tcp: true, want: stunNo},
		{name: "ms-turn", b: msTURN(bindingRequest(xorMapped4)), want: stunYes, addrs: stunAttrMapped},
		// Applications named by attributes and realms.
		{name: "zoom attribute", b: bindingRequest(stunAttr{0x0103, rtBE32(1)}), want: stunYes, app: ProtoZoom},
		{name: "whatsapp attribute", b: bindingRequest(stunAttr{0x4002, rtBE32(1)}), want: stunYes, app: ProtoWhatsAppCall},
		{name: "whatsapp message type", b: stunMsg(0x0801, true, rfc5769TxID), want: stunYes, app: ProtoWhatsAppCall},
		{name: "teams candidate id", b: bindingRequest(stunAttr{0x8054, []byte{0x31, 0, 0, 0}}), want: stunYes, app: ProtoSkypeTeamsCall},
		{name: "google attribute", b: bindingRequest(stunAttr{0xFF03, rtBE32(1)}), want: stunYes, app: ProtoGoogleCall},
		{name: "realm google", b: stunMsg(0x0113, true, rfc5769TxID, realm("turn.google.com")), want: stunYes, app: ProtoGoogleCall, turn: true},
		{name: "realm signal", b: stunMsg(0x0113, true, rfc5769TxID, realm("turn.signal.org")), want: stunYes, app: ProtoSignalVoip, turn: true},
		{name: "realm facebook", b: stunMsg(0x0113, true, rfc5769TxID, realm("turner.facebook")), want: stunYes, app: ProtoFacebookVoip, turn: true},
		{name: "realm junk", b: stunMsg(0x0113, true, rfc5769TxID, realm("goo\x01gle.com")), want: stunYes, turn: true},
		// Attributes that claim more than the message holds are skipped.
		{name: "overlong attribute", b: func() []byte {
			m := bindingRequest(stunAttr{0x0014, []byte("abcd")})
			binary.BigEndian.PutUint16(m[22:], 200)
			return m
		}(), want: stunYes},
	}
	for _, c := range cases {
		var info stunInfo
		got := parseSTUN(c.b, c.tcp, &info)
		if got != c.want || info.app != c.app || info.turn != c.turn || info.addrs != c.addrs {
			t.Errorf("%s: got rc %d app %v turn %v addrs %b, want rc %d app %v turn %v addrs %b",
				c.name, got, info.app, info.turn, info.addrs, c.want, c.app, c.turn, c.addrs)
		}
	}
}

// RFC 5769 §2.2 and §2.3: the XOR-MAPPED-ADDRESS test vectors decode to
// 192.0.2.1:32853 and [2001:db8:1234:5678:11:2233:4455:6677]:32853.
func TestSTUNXORAddress(t *testing.T) {
	var txid [12]byte
	copy(txid[:], rfc5769TxID)
	got, ok := stunXORAddr(xorMapped4.val, &txid)
	if want := netip.MustParseAddrPort("192.0.2.1:32853"); !ok || got != want {
		t.Errorf("IPv4: got %v %v, want %v", got, ok, want)
	}
	v6 := []byte{0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79,
		0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9}
	got, ok = stunXORAddr(v6, &txid)
	if want := netip.MustParseAddrPort("[2001:db8:1234:5678:11:2233:4455:6677]:32853"); !ok || got != want {
		t.Errorf("IPv6: got %v %v, want %v", got, ok, want)
	}
	if _, ok := stunXORAddr(v6[:19], &txid); ok {
		t.Error("a truncated address decoded")
	}
}

func TestSTUNFlows(t *testing.T) {
	wa := stunAttr{0x4000, rtBE32(1)}
	cases := []struct {
		name, cli, srv string
		proto          uint8
		pkts           []rtPkt
		want, host     string
		dpi            uint16
		state          State
	}{
		{name: "binding only", cli: "10.0.0.1:40000", srv: "198.51.100.7:3478", proto: IPProtoUDP,
			pkts: []rtPkt{rtUp(bindingRequest()), rtDown(bindingResponse(xorMapped4))}, want: "STUN", dpi: 2, state: Partial},
		// 1 classifying packet + 6 extra, as nDPI counts.
		{name: "extra dissection ends", cli: "10.0.0.1:40000", srv: "198.51.100.7:3478", proto: IPProtoUDP,
			pkts: []rtPkt{rtUp(bindingRequest()), rtDown(bindingResponse(xorMapped4)), rtUp(bindingRequest()), rtDown(bindingResponse()),
				rtUp(bindingRequest()), rtDown(bindingResponse()), rtUp(bindingRequest()), rtDown(bindingResponse()), rtUp(bindingRequest())},
			want: "STUN", dpi: 7, state: Classified},
		{name: "whatsapp then SRTP", cli: "10.0.0.1:40000", srv: "198.51.100.7:3478", proto: IPProtoUDP,
			pkts: []rtPkt{rtUp(bindingRequest(wa)), rtDown(bindingResponse(xorMapped4)), rtUp(rtpPacket(120, 1, 160, 7, 40))},
			want: "SRTP.WhatsAppCall", state: Partial},
		{name: "plain STUN then RTP", cli: "10.0.0.1:40000", srv: "198.51.100.7:3478", proto: IPProtoUDP,
			pkts: []rtPkt{rtUp(bindingRequest()), rtDown(bindingResponse()), rtUp(rtpPacket(0, 1, 160, 7, 40))},
			want: "STUN.RTP", state: Partial},
		// RFC 7983 demultiplexing: DTLS after STUN keeps the application.
		{name: "google realm then DTLS", cli: "10.0.0.1:40000", srv: "198.51.100.7:3478", proto: IPProtoUDP,
			pkts: []rtPkt{rtUp(stunMsg(0x0113, true, rfc5769TxID, stunAttr{0x0014, []byte("turn.l.google.com")})), rtUp(stunTestDTLS())},
			want: "DTLS.GoogleCall", host: "turn.l.google.com", state: Partial},
		{name: "google call by address", cli: "10.0.0.1:40000", srv: "74.125.250.10:19302", proto: IPProtoUDP,
			pkts: []rtPkt{rtUp(bindingRequest())}, want: "STUN.GoogleCall", state: Partial},
		{name: "google call by IPv6 address", cli: "[2001:db8::1]:40000", srv: "[2001:4860:4864:6::81]:19305", proto: IPProtoUDP,
			pkts: []rtPkt{rtUp(bindingRequest())}, want: "STUN.GoogleCall", state: Partial},
		// TURN ChannelData (RFC 8656 §12.4) carrying RTP on a WhatsApp relay.
		{name: "turn channel data", cli: "10.0.0.1:40000", srv: "198.51.100.7:3478", proto: IPProtoUDP,
			pkts: []rtPkt{rtUp(stunMsg(0x0003, true, rfc5769TxID, wa)), rtUp(rtCat(rtBE16(0x4000), rtBE16(52), rtpPacket(120, 1, 1, 1, 40)))},
			want: "SRTP.WhatsAppCall", state: Partial},
		{name: "tcp framed", cli: "10.0.0.1:40000", srv: "198.51.100.7:3478", proto: IPProtoTCP,
			pkts: []rtPkt{rtUp(rtCat(rtBE16(20), bindingRequest()))}, want: "STUN", state: Partial},
		// Telegram's relay framing: a control datagram, then STUN wrapped
		// after a 24-byte header ending with the inner length.
		{name: "telegram relay call", cli: "10.0.0.1:40000", srv: "149.154.167.51:596", proto: IPProtoUDP,
			pkts: []rtPkt{
				rtUp(rtCat(rtRepeat(1, 16), rtRepeat(0xff, 12), rtRepeat(2, 20))),
				rtUp(rtCat(rtRepeat(3, 22), rtBE16(20), bindingRequest())),
			}, want: "STUN.TelegramVoip", state: Partial},
		{name: "multicast is not STUN", cli: "10.0.0.1:40000", srv: "239.1.1.1:3478", proto: IPProtoUDP,
			pkts: []rtPkt{rtUp(bindingRequest())}, want: "STUN", state: Inspecting}, // then guessed by port only
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			s := w.flow(c.proto, c.cli, c.srv)
			f := s.rtPlay(c.pkts...)
			if f.Result.State != c.state {
				t.Errorf("state %v, want %v", f.Result.State, c.state)
			}
			r := w.result(s)
			if got := rtAppName(r); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
			if r.Hostname != c.host {
				t.Errorf("hostname %q, want %q", r.Hostname, c.host)
			}
			if c.dpi != 0 && r.DPIPackets != c.dpi {
				t.Errorf("dpi packets %d, want %d", r.DPIPackets, c.dpi)
			}
		})
	}
}

// A call's endpoints, once named, name the other flows they take part in
// (nDPI's STUN cache): a later plain Binding from the same client port is
// the same call.
func TestSTUNPeerCache(t *testing.T) {
	w := newWorld(t)
	a := w.flow(IPProtoUDP, "10.0.0.1:40000", "31.13.86.48:3478")
	a.rtPlay(rtUp(bindingRequest(stunAttr{0x4000, rtBE32(1)})))
	b := w.flow(IPProtoUDP, "10.0.0.1:40000", "203.0.113.9:61000")
	b.rtPlay(rtUp(bindingRequest()))
	other := w.flow(IPProtoUDP, "10.0.0.2:40000", "203.0.113.10:61000")
	other.rtPlay(rtUp(bindingRequest()))
	if r := w.result(b); rtAppName(r) != "STUN.WhatsAppCall" || r.Confidence != ConfPeerCache {
		t.Errorf("cached peer: got %s (%v), want STUN.WhatsAppCall from the peer cache", rtAppName(r), r.Confidence)
	}
	if r := w.result(other); rtAppName(r) != "STUN" || r.Confidence != ConfDPI {
		t.Errorf("unrelated client: got %s, want STUN", rtAppName(r))
	}
}

func TestSTUNPeerCacheBoundsAndExpiry(t *testing.T) {
	var pc stunPeerCache
	now := int64(1e18)
	for i := range 10000 {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}), uint16(i))
		pc.put(a, ProtoZoom, now)
	}
	if len(pc.slots) != stunPeerSets*2 {
		t.Fatalf("cache grew to %d slots", len(pc.slots))
	}
	last := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(9999 >> 8), byte(9999 & 0xff), 1}), 9999)
	if app, ok := pc.get(last, now+1); !ok || app != ProtoZoom {
		t.Errorf("most recent entry lost: %v %v", app, ok)
	}
	if _, ok := pc.get(last, now+stunPeerTTL+1); ok {
		t.Error("entry outlived its TTL")
	}
}

func TestSTUNDTLSRecord(t *testing.T) {
	cases := []struct {
		b    []byte
		want bool
	}{
		{stunTestDTLS(), true},
		{rtCat([]byte{23, 0xfe, 0xfd}, rtRepeat(0, 8), rtBE16(4), rtRepeat(9, 4)), true},   // application data
		{rtCat([]byte{22, 0x03, 0x03}, rtRepeat(0, 8), rtBE16(4), rtRepeat(9, 4)), false},  // TLS, not DTLS
		{rtCat([]byte{22, 0xfe, 0xfd}, rtRepeat(0, 8), rtBE16(40), rtRepeat(9, 4)), false}, // overlong
		{stunTestDTLS()[:12], false},
	}
	for i, c := range cases {
		if got := stunDTLSRecord(c.b); got != c.want {
			t.Errorf("%d: got %v, want %v", i, got, c.want)
		}
	}
}

func FuzzSTUN(f *testing.F) {
	f.Add(bindingRequest(), false)
	f.Add(bindingResponse(xorMapped4), false)
	f.Add(stunMsg(0x0113, true, rfc5769TxID, stunAttr{0x0014, []byte("turn.example.org")}, stunAttr{0x0013, rtpPacket(0, 1, 1, 1, 8)}), false)
	f.Add(rtCat(rtBE16(20), bindingRequest()), true)
	f.Add(stunMsg(0x0001, false, rfc5769TxID, stunAttr{0x0003, rtBE32(0)}), false)
	f.Fuzz(func(t *testing.T, b []byte, tcp bool) {
		var info stunInfo
		parseSTUN(b, tcp, &info)
		stunDTLSRecord(b)
		var txid [12]byte
		stunXORAddr(b, &txid)
	})
}
