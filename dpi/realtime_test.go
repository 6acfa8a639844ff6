package dpi

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
)

// realtimeCase is one flow of the family's table tests: the payloads sent
// and the name (and hostname) expected once the flow ends.
type realtimeCase struct {
	name, cli, srv string
	proto          uint8
	pkts           []rtPkt
	want, host     string
}

func udpCase(name, cli, srv, want string, pkts ...rtPkt) realtimeCase {
	return realtimeCase{name: name, cli: cli, srv: srv, proto: IPProtoUDP, pkts: pkts, want: want}
}

func tcpCase(name, cli, srv, want string, pkts ...rtPkt) realtimeCase {
	return realtimeCase{name: name, cli: cli, srv: srv, proto: IPProtoTCP, pkts: pkts, want: want}
}

func (c realtimeCase) withHost(h string) realtimeCase { c.host = h; return c }

// Messages built from the protocols' specifications (or, for the
// proprietary ones, the fixed bytes of their documented signatures).
var (
	// RFC 3261 §24.2: Alice's INVITE.
	sipInvite = []byte("INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n" +
		"Max-Forwards: 70\r\nFrom: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n" +
		"To: Bob <sip:bob@biloxi.example.com>\r\nCall-ID: 3848276298220188511@atlanta.example.com\r\n" +
		"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
	sipOK = []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n" +
		"CSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n")
	// RFC 3435 §3.2.1 / appendix E: a NotificationRequest.
	mgcpRQNT = []byte("RQNT 1201 aaln/1@rgw-2567.whatever.net MGCP 1.0\r\nN: ca@ca1.whatever.net:5678\r\nX: 0123456789AC\r\nR: l/hd(N)\r\n")
	// RFC 1006 TPKT + ITU-T Q.931 SETUP (discriminator 8, 2-byte call
	// reference, message type 5, bearer capability, user-user IE).
	h225Setup = func() []byte {
		q931 := []byte{0x08, 0x02, 0x00, 0x01, 0x05, 0x04, 0x03, 0x88, 0x90, 0xa5, 0x7e, 0x00, 0x08, 0x05, 0x20, 0x80, 0x06, 0x00, 0x08, 0x91, 0x4a}
		return rtCat([]byte{3, 0}, rtBE16(uint16(4+len(q931))), q931)
	}()
	// H.225.0 RAS GatekeeperRequest: PER choice, sequence number, then the
	// protocolIdentifier OID 0.0.8.2250.0.4 (length 6).
	rasGRQ = []byte{0x02, 0x20, 0x00, 0x00, 0x06, 0x00, 0x08, 0x91, 0x4a, 0x00, 0x04, 0x00, 0x11, 0x02, 0x00, 0x7c, 0x07, 0xf2, 0x22, 0x00, 0xae, 0x01}
	// RFC 5456 §6.2.1: IAX2 NEW full frame (frame type 6, subclass 1) with
	// VERSION (IE 11) and CALLED NUMBER (IE 1) information elements.
	iaxNew = rtCat([]byte{0x80, 0x01, 0x00, 0x00}, rtBE32(3), []byte{0, 0, 6, 1}, []byte{11, 2, 0, 2}, []byte{1, 3, '1', '0', '0'})
	// RFC 8855 §5.1: FloorRequest (primitive 1), conference 7, transaction 1, user 2.
	bfcpFloorRequest = rtCat([]byte{0x20, 1}, rtBE16(0), rtBE32(7), rtBE16(1), rtBE16(2))
	// SCCP RegisterMessage (id 1): little-endian length of id+data, header version 0.
	sccpRegister = rtCat(rtLE32(4+16), rtLE32(0), rtLE32(1), rtRepeat('A', 16))
	// Valve "Server queries": A2S_INFO request.
	a2sInfo = []byte("\xff\xff\xff\xffTSource Engine Query\x00")
	// KCP PUSH segment with 5 data bytes, then an ACK segment in the same datagram.
	kcpPush = rtCat(rtLE32(0x11223344), []byte{81, 0}, rtLE16(128), rtLE32(1000), rtLE32(0), rtLE32(0), rtLE32(5), []byte("hello"),
		rtLE32(0x11223344), []byte{82, 0}, rtLE16(128), rtLE32(1000), rtLE32(0), rtLE32(1), rtLE32(0))
)

// raknetMagicMsg is an offline RakNet message: id, extra prefix, magic, rest.
func raknetMsg(id byte, pre, post []byte) []byte {
	return rtCat([]byte{id}, pre, raknetMagic, post)
}

func TestRealtimeSignatures(t *testing.T) {
	mpegts := func(n int) []byte {
		b := make([]byte, 188*n)
		for i := 0; i < n; i++ {
			b[188*i] = 0x47 // sync byte
			b[188*i+1] = 0x01
		}
		return b
	}
	threemaFrame := rtCat(rtLE16(30), rtRepeat(0x5a, 30))
	zoomSFU5 := rtCat([]byte{5}, rtBE16(1), rtBE32(0), []byte{0}, // SFU encapsulation
		[]byte{15}, rtBE32(0), rtBE32(0), rtBE16(1), rtBE32(0), // media encapsulation, audio
		rtRepeat(0, 4), rtpPacket(112, 1, 1, 1, 40)) // 4 more header bytes, then RTP
	cases := []realtimeCase{
		udpCase("SIP INVITE", "10.0.0.1:5060", "10.0.0.2:5060", "SIP", rtUp(sipInvite)),
		tcpCase("SIP response", "10.0.0.1:40000", "10.0.0.2:5060", "SIP", rtDown(sipOK)),
		udpCase("SIP hello keepalive", "10.0.0.1:5060", "10.0.0.2:5060", "SIP", rtUp([]byte("hello"))),
		udpCase("hello elsewhere", "10.0.0.1:40000", "10.0.0.2:41000", "Unknown", rtUp([]byte("hello"))),
		udpCase("MGCP", "10.0.0.1:2727", "10.0.0.2:2427", "MGCP", rtUp(mgcpRQNT)).withHost("rgw-2567.whatever.net"),
		tcpCase("H.225 setup", "10.0.0.1:40000", "10.0.0.2:1720", "H323", rtUp(h225Setup)),
		udpCase("H.225 RAS", "10.0.0.1:2034", "10.0.0.2:1719", "H323", rtUp(rasGRQ)),
		udpCase("IAX2 NEW", "10.0.0.1:4569", "10.0.0.2:4569", "IAX", rtUp(iaxNew)),
		udpCase("IAX2 bad IEs", "10.0.0.1:40000", "10.0.0.2:40001", "Unknown", rtUp(iaxNew[:len(iaxNew)-1])),
		udpCase("BFCP", "10.0.0.1:40000", "10.0.0.2:5070", "BFCP", rtUp(bfcpFloorRequest), rtDown(bfcpFloorRequest)),
		udpCase("BFCP other conference", "10.0.0.1:40000", "10.0.0.2:5070", "Unknown",
			rtUp(bfcpFloorRequest), rtDown(rtCat(bfcpFloorRequest[:4], rtBE32(8), bfcpFloorRequest[8:]))),
		tcpCase("Skinny", "10.0.0.1:40000", "10.0.0.2:2000", "CiscoSkinny", rtUp(sccpRegister)),
		tcpCase("Skinny bad length", "10.0.0.1:40000", "10.0.0.3:2000", "CiscoSkinny", rtUp(rtCat(rtLE32(400), rtLE32(0), rtLE32(1)))), // guessed by port
		udpCase("Source Engine", "10.0.0.1:40000", "10.0.0.2:27015", "Source_Engine", rtUp(a2sInfo)),
		udpCase("KCP", "10.0.0.1:40000", "10.0.0.2:8000", "KCP", rtUp(kcpPush)),
		udpCase("KCP bad length", "10.0.0.1:40000", "10.0.0.2:8001", "Unknown", rtUp(kcpPush[:len(kcpPush)-1])),
		udpCase("RakNet handshake", "10.0.0.1:40000", "10.0.0.2:19132", "RakNet",
			rtUp(raknetMsg(0x05, nil, rtCat([]byte{10}, rtRepeat(0, 100)))),                                            // open connection request 1
			rtDown(raknetMsg(0x06, nil, rtCat(rtBE32(1), rtBE32(2), []byte{0}, rtBE16(1400)))),                         // reply 1
			rtUp(raknetMsg(0x07, nil, rtCat([]byte{4, 10, 0, 0, 2, 0x4a, 0xbc}, rtBE16(1400), rtBE32(1), rtBE32(2))))), // request 2
		udpCase("RakNet ACK", "10.0.0.1:40000", "10.0.0.2:50000", "RakNet", rtUp([]byte{0xc0, 0, 1, 1, 0, 0, 0})),
		udpCase("RakNet frame set", "10.0.0.1:40000", "10.0.0.2:50000", "RakNet",
			rtUp(rtCat([]byte{0x84, 0, 0, 0}, []byte{0x00}, rtBE16(5*8), []byte("hello")))),
		udpCase("MPEG-TS", "10.0.0.1:40000", "239.1.1.1:1234", "MPEG_TS", rtUp(mpegts(7))),
		udpCase("MPEG-TS bad sync", "10.0.0.1:40000", "239.1.1.2:1234", "Unknown", rtUp(append(mpegts(6), rtRepeat(0x48, 188)...))),
		udpCase("UFTP", "10.0.0.1:40000", "230.4.4.1:1044", "UFTP",
			rtUp([]byte{0x40, 0x01, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x96, 0xf4, 0xc3, 0x04, 0x00, 0x9d, 0x00, 0x00, 0x01, 0x06, 0x00, 0x14, 0, 0, 5, 0x14})),
		udpCase("OICQ", "10.0.0.1:40000", "10.0.0.2:8000", "OICQ", rtUp(rtCat([]byte{0x02, 0x3b, 0x0b, 0x00, 0x01, 0x00, 0x17}, rtRepeat(0x11, 36), []byte{0x03}))),
		udpCase("SD-RTN", "10.0.0.1:40000", "10.0.0.2:8130", "SD-RTN",
			rtUp(rtCat([]byte{0, 0x5a, 0x38, 0x4c, 0, 0, 0x21, 0}, rtBE32(0), rtBE32(0x04534e49), rtBE16(18), []byte{0}, []byte("edge-1.example.net")))).withHost("edge-1.example.net"),
		udpCase("Viber", "10.0.0.1:40000", "10.0.0.2:7985", "Viber", rtUp(rtCat([]byte{0xed, 0xf6, 0x09, 0x00}, rtRepeat(1, 16)))),
		tcpCase("Viber TCP", "10.0.0.1:40000", "10.0.0.2:4244", "Viber", rtUp(rtCat(rtLE16(20), []byte{0xad, 0xd4, 0xdc, 0x17, 0xfc, 0xff, 0x03, 0x80}, rtRepeat(0, 10)))),
		tcpCase("Threema", "10.0.0.1:40000", "10.0.0.2:5222", "Threema",
			rtUp(rtRepeat(1, 48)), rtDown(rtRepeat(2, 80)), rtUp(rtRepeat(3, 191)), rtDown(rtRepeat(4, 54)), rtUp(threemaFrame)),
		tcpCase("WhatsApp split preamble", "10.0.0.1:40000", "10.0.0.2:443", "WhatsApp",
			rtUp([]byte("ED\x00\x01")), rtUp([]byte("\x00\x00\x04\x08rest of the hello"))),
		udpCase("IMO", "10.0.0.1:40000", "10.0.0.2:41000", "IMO", rtUp([]byte{7}), rtUp([]byte{7})),
		udpCase("Discord keepalive", "10.0.0.1:40000", "10.0.0.2:50004", "Discord", rtUp(rtCat(rtBE32(0x1337cafe), rtLE32(10)))),
		udpCase("Discord IP discovery", "10.0.0.1:40000", "10.0.0.2:50003", "Discord",
			rtUp(rtCat(rtBE32(0x00010046), rtBE32(7), rtRepeat(0, 66))), rtDown(rtCat(rtBE32(0x00020046), rtBE32(7), []byte("203.0.113.9"), rtRepeat(0, 55)))),
		udpCase("Mumble ping", "10.0.0.1:40000", "10.0.0.2:64738", "Mumble",
			rtUp(rtCat(rtBE32(0), rtBE32(1), rtBE32(2))), rtDown(rtCat([]byte{0, 1, 3, 4}, rtBE32(1), rtBE32(2), rtBE32(0), rtBE32(100), rtBE32(0x11940)))),
		udpCase("TeamSpeak 3", "10.0.0.1:40000", "10.0.0.2:9987", "TeamSpeak", rtUp(rtCat([]byte("TS3INIT1"), rtBE16(0x65), rtRepeat(0, 24)))),
		tcpCase("Telegram", "10.0.0.1:40000", "149.154.167.51:443", "Telegram", rtUp(rtCat([]byte{0xef, 16}, rtRepeat(0x42, 64)))),
		udpCase("Telegram relay", "10.0.0.1:40000", "149.154.167.51:596", "Telegram", rtUp(rtCat(rtRepeat(1, 16), rtRepeat(0xff, 12), rtRepeat(2, 20)))),
		tcpCase("TruPhone", "10.0.0.1:40000", "10.0.0.2:5222", "TruPhone",
			rtUp([]byte("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='im.truphone.com'>"))),
		// Other XMPP is the LAN family's Jabber, not TruPhone.
		tcpCase("other XMPP", "10.0.0.1:40000", "10.0.0.2:5223", "Jabber",
			rtUp([]byte("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='example.org'>"))),
		udpCase("Spotify discovery", "10.0.0.1:57621", "10.0.0.255:57621", "Spotify", rtUp([]byte("SpotUdp0\x00\x01\x02\x03"))),
		tcpCase("Spotify access point", "10.0.0.1:40000", "10.0.0.2:4070", "Spotify", rtUp(rtCat([]byte{0, 4}, rtBE32(40), []byte{0x52, 0x0f, 0x50}, rtRepeat(0, 31)))),
		udpCase("Steam", "10.0.0.1:40000", "10.0.0.2:27036", "Steam", rtUp([]byte("VS01\x00\x00\x00\x00"))),
		udpCase("Steam pair", "10.0.0.1:40000", "10.0.0.2:41000", "Steam", rtUp([]byte{0x39, 0x18, 0, 0}), rtDown(rtCat([]byte{0x3a, 0x18, 0, 0}, rtBE32(1)))),
		udpCase("Xbox", "10.0.0.1:3074", "10.0.0.2:3074", "Xbox", rtUp(rtRepeat(0, 24)), rtDown(rtRepeat(0, 24))),
		udpCase("Nintendo", "10.0.0.1:40000", "10.0.0.2:41000", "Nintendo", rtUp(rtCat([]byte{0x32, 0xab, 0x98, 0x64, 0x02}, rtRepeat(0, 60)))),
		udpCase("Zoom SFU hello", "10.0.0.1:40000", "10.0.0.2:8801", "Zoom", rtUp(rtCat([]byte{1, 0, 3}, rtRepeat(0, 30)))),
		udpCase("Zoom media", "10.0.0.1:40000", "10.0.0.2:8801", "SRTP.Zoom", rtUp(rtCat([]byte{1, 0, 3}, rtRepeat(0, 30))), rtUp(zoomSFU5)),
		udpCase("Genshin Impact", "10.0.0.1:40000", "10.0.0.2:22101", "GenshinImpact",
			rtUp(rtCat(rtBE32(0xff), rtBE32(0), rtBE32(0), rtBE32(1234567890), rtBE32(0xffffffff)))),
		udpCase("LoL Wild Rift", "10.0.0.1:40000", "10.0.0.2:18001", "LoLWildRift", rtUp(rtCat(rtBE32(0x0102c841), rtRepeat(0, 14), rtBE32(0x41304231)))),
		udpCase("Riot Games", "10.0.0.1:40000", "10.0.0.2:7194", "RiotGames", rtUp(rtCat(rtRepeat(9, 20), rtBE32(0xaaaaaaaa), rtBE32(0xbbbbbbbb)))),
		udpCase("Heroes of the Storm", "10.0.0.1:40000", "10.0.0.2:3724", "Heroes_of_the_Storm", rtUp(rtCat([]byte{0xe6, 0x5d, 0x34, 0x00}, rtRepeat(1, 10), []byte{0x40, 0}, rtRepeat(2, 8)))),
		tcpCase("StarCraft II logon", "10.0.0.1:40000", "213.248.127.130:1119", "Starcraft", rtUp(rtCat([]byte{0x4a, 0, 0, 0x0a, 0x66, 0x02, 0x0a, 0xed, 0x2d, 0x66}, rtRepeat(0, 10)))),
		tcpCase("World of Warcraft", "10.0.0.1:40000", "10.0.0.2:3724", "WorldOfWarcraft",
			rtDown(append([]byte("\x30\x00WORLD OF WARCRAFT CONNECTION - SERVER TO CLIENT"), 0))),
		tcpCase("TES Online", "10.0.0.1:40000", "10.0.0.2:24120", "TES_Online", rtUp(rtCat(rtBE32(700-4), rtRepeat(0, 100), []byte("eso.live"), rtRepeat(0, 588)))),
		tcpCase("Path of Exile", "10.0.0.1:40000", "10.0.0.2:6112", "PathofExile", rtUp(rtCat([]byte{0, 3, 0, 0x37, 0x75, 0x60, 0, 2, 0, 9}, []byte("nDPI_Test"), rtBE32(0), rtBE32(0x40000001)))),
	}
	for _, c := range cases {
		r := rtRun(t, c.proto, c.cli, c.srv, c.pkts...)
		if got := rtAppName(r); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
		if r.Hostname != c.host {
			t.Errorf("%s: hostname %q, want %q", c.name, r.Hostname, c.host)
		}
	}
}

// Payloads that look like nothing in particular must not be claimed by
// the family's heuristics.
func TestRealtimeRejectsNoise(t *testing.T) {
	var seed uint32 = 2463534242
	rnd := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			seed ^= seed << 13
			seed ^= seed >> 17
			seed ^= seed << 5
			b[i] = byte(seed)
		}
		return b
	}
	named := 0
	for i := range 200 {
		var pkts []rtPkt
		for j := range 12 {
			d := ToServer
			if j%2 == 1 {
				d = ToClient
			}
			pkts = append(pkts, rtPkt{d, rnd(20 + (i*7+j*13)%300)})
		}
		proto := uint8(IPProtoUDP)
		if i%2 == 1 {
			proto = IPProtoTCP
		}
		r := rtRun(t, proto, "10.0.0.1:40000", "10.0.0.2:41234", pkts...)
		if r.Confidence == ConfDPI {
			named++
			t.Logf("noise flow %d named %s", i, rtAppName(r))
		}
	}
	if named > 2 {
		t.Errorf("%d of 200 random flows were named by DPI", named)
	}
}

func TestRealtimeCatalog(t *testing.T) {
	cat := DefaultCatalog()
	for _, c := range []struct{ host, app string }{
		{"e7.whatsapp.net", "WhatsApp"},
		{"mmg.whatsapp.net", "WhatsAppFiles"},
		{"zoom.us", "Zoom"},
		{"us04web.zoom.us", "Zoom"},
		{"radcom.webex.com", "Webex"},
		{"teams.microsoft.com", "Teams"},
		{"meet.google.com", "GoogleMeet"},
		{"chat.signal.org", "Signal"},
		{"dl-media.viber.com", "Viber"},
		{"gateway.discord.gg", "Discord"},
		{"str1-euwest1-34-246-231-140.addlive.io", "SnapchatCall"},
		{"feelinsonice-hrd.appspot.com", "Snapchat"},
		{"publist.mumble.info", "Mumble"},
		{"launcher.worldofwarcraft.com", "WorldOfWarcraft"},
		{"im.truphone.com", "TruPhone"},
	} {
		en, ok := cat.Host(c.host)
		if !ok || cat.ProtoName(en.App) != c.app {
			t.Errorf("%s: got %v %v, want %s", c.host, cat.ProtoName(en.App), ok, c.app)
		}
	}
	for _, c := range []struct{ addr, app string }{
		{"149.154.167.51", "Telegram"},
		{"2001:67c:4e8:f004::a", "Telegram"},
		{"64.68.105.103", "Webex"},
		{"134.224.90.111", "Zoom"},
		{"162.249.72.1", "RiotGames"},
		{"185.88.236.110", "Threema"},
		{"24.105.57.16", "Starcraft"},
	} {
		en, ok := cat.Addr(netip.MustParseAddr(c.addr))
		if !ok || cat.ProtoName(en.App) != c.app {
			t.Errorf("%s: got %v %v, want %s", c.addr, cat.ProtoName(en.App), ok, c.app)
		}
	}
	// Every application the file names is one of nDPI's, not a new
	// custom protocol.
	data, err := catalogFS.ReadFile("catalog/realtime.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.LastIndexByte(line, '@'); i >= 0 && !strings.HasPrefix(line, "#") {
			name, _, _ := strings.Cut(line[i+1:], "/")
			if _, ok := ProtoByName(strings.TrimSpace(name)); !ok {
				t.Errorf("catalog names %q, which is not an nDPI protocol", name)
			}
		}
	}
}

// The default ports of the family resolve to protocols and do not claim
// a port another family already lists.
func TestRealtimePorts(t *testing.T) {
	seen := map[portKey]string{}
	for _, line := range concatPorts(corePorts, p2pPorts, lanPorts) {
		f := strings.Fields(line)
		if _, ok := ProtoByName(f[0]); !ok {
			continue // names outside the registry never claim a port
		}
		for _, spec := range f[1:] {
			l4 := uint8(IPProtoTCP)
			if spec[0] == 'u' {
				l4 = IPProtoUDP
			}
			for _, p := range strings.Split(spec[2:], ",") {
				lo, hi, _ := parsePortRange(p)
				for q := int(lo); q <= int(hi); q++ {
					seen[portKey{l4, uint16(q)}] = f[0]
				}
			}
		}
	}
	for _, line := range realtimePorts {
		f := strings.Fields(line)
		if _, ok := ProtoByName(f[0]); !ok {
			t.Errorf("%q: unknown protocol", line)
		}
		for _, spec := range f[1:] {
			l4 := uint8(IPProtoTCP)
			if spec[0] == 'u' {
				l4 = IPProtoUDP
			}
			for _, p := range strings.Split(spec[2:], ",") {
				lo, hi, err := parsePortRange(p)
				if err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				for q := int(lo); q <= int(hi); q++ {
					if other, dup := seen[portKey{l4, uint16(q)}]; dup {
						t.Errorf("%s %c:%d is already %s's", f[0], spec[0], q, other)
					}
				}
			}
		}
	}
}

// The family's per-flow state stays small: it lives in every scratch.
func TestRealtimeStateSize(t *testing.T) {
	if n := binary.Size(realtimeState{}); n > 96 {
		t.Errorf("realtimeState is %d bytes", n)
	}
}

// FuzzRealtimeDissectors drives arbitrary payloads through the family's
// dissectors (and the rest of the engine) on both transports, with the
// ports chosen by the input so the port-gated signatures are reached.
func FuzzRealtimeDissectors(f *testing.F) {
	f.Add(uint8(17), uint16(3478), sipInvite)
	f.Add(uint8(17), uint16(3478), rtCat(bindingRequest(stunAttr{0x4000, rtBE32(1)}), []byte{0xff}, rtpPacket(0, 1, 1, 1, 8)))
	f.Add(uint8(6), uint16(2000), sccpRegister)
	f.Add(uint8(17), uint16(19132), raknetMsg(0x05, nil, []byte{10, 0, 0}))
	f.Add(uint8(17), uint16(8801), rtCat([]byte{5, 0, 1, 0, 0, 0, 0, 0, 15}, rtRepeat(0, 30)))
	f.Add(uint8(17), uint16(1119), rtRepeat(0, 20))
	f.Add(uint8(6), uint16(1720), h225Setup)
	f.Add(uint8(17), uint16(2427), mgcpRQNT)
	f.Fuzz(func(t *testing.T, proto uint8, port uint16, data []byte) {
		l4 := uint8(IPProtoUDP)
		if proto%2 == 0 {
			l4 = IPProtoTCP
		}
		s := newSim(t, l4, "10.0.0.1:40000", "10.0.0.2:"+rtItoa(int(port)))
		if l4 == IPProtoTCP {
			s.handshake()
		}
		// Split the input into payloads at 0xFF bytes (0xFF itself kept).
		for d := 0; len(data) > 0; d++ {
			n := bytes.IndexByte(data[1:], 0xff) + 1
			if n == 0 {
				n = len(data)
			}
			s.send(Dir(d%2), data[:n])
			data = data[n:]
		}
		s.e.Flush()
	})
}

func FuzzRealtimeParsers(f *testing.F) {
	f.Add(kcpPush)
	f.Add([]byte{0xc0, 0, 1, 1, 0, 0, 0})
	f.Add(rtCat([]byte{0x84, 0, 0, 0}, []byte{0x70}, rtBE16(5*8), rtRepeat(1, 20)))
	f.Add(mgcpRQNT)
	f.Fuzz(func(t *testing.T, b []byte) {
		kcpSegments(b)
		raknetAcks(b)
		raknetFrameSet(b)
		raknetAddrLen(b, 3)
		mgcpField(b, 2)
		sipStart(b)
		zoomMedia(b)
		zoomSFU5(b)
	})
}

func rtItoa(n int) string {
	var b [8]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
