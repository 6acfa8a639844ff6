package dpi

// Test conversations for this family's dissectors, built from the
// protocol specifications cited next to each. Shared by the table test,
// the allocation test and the fuzz seeds.

func slp2(fn, flags int, body []byte) []byte {
	// RFC 2608 §8: version, function, 24-bit length, flags, next extension
	// offset, XID, language tag length and tag.
	n := 16 + len(body)
	return lcat(2, fn, byte(n>>16), byte(n>>8), byte(n), lu16(flags), 0, 0, 0, lu16(0x1234), lu16(2), "en", body)
}

// RFC 2608 §8.1 SrvRqst: PRList, service type, scope list, predicate, SPI.
var slpSrvRqst = lcat(lu16(0), lu16(15), "service:printer", lu16(7), "default", lu16(0), lu16(0))

func radiusPkt(code int, attrs []byte) []byte {
	// RFC 2865 §3: code, identifier, length, 16-byte authenticator, attributes.
	return lcat(code, 7, lu16(20+len(attrs)), make([]byte, 16), attrs)
}

// RFC 3416 §3 / RFC 1157 §4.1: a v2c GetRequest for sysDescr.0 and its
// response with error-status noSuchName (2).
var (
	snmpVarbinds = ber(0x30, ber(0x30, ber(6, 0x2b, 6, 1, 2, 1, 1, 1, 0), []byte{5, 0}))
	snmpGet      = ber(0x30, ber(2, 1), ber(4, "public"), ber(0xa0, ber(2, 0x12, 0x34), ber(2, 0), ber(2, 0), snmpVarbinds))
	snmpRespErr  = ber(0x30, ber(2, 1), ber(4, "public"), ber(0xa2, ber(2, 0x12, 0x34), ber(2, 2), ber(2, 1), snmpVarbinds))
	snmpRespOK   = ber(0x30, ber(2, 1), ber(4, "public"), ber(0xa2, ber(2, 0x12, 0x34), ber(2, 0), ber(2, 0), snmpVarbinds))
	// RFC 3412 §6: msgVersion 3, msgGlobalData (id, max size, flags,
	// security model 3), security parameters, scoped PDU.
	snmpV3 = ber(0x30, ber(2, 3), ber(0x30, ber(2, 1), ber(2, 0x05, 0xdc), ber(4, 4), ber(2, 3)),
		ber(4, ber(0x30, ber(4), ber(2, 0), ber(2, 0), ber(4), ber(4), ber(4))),
		ber(0x30, ber(4), ber(4), ber(0xa0, ber(2, 1), ber(2, 0), ber(2, 0), ber(0x30))))
)

// RFC 4120 §5.4.1 AS-REQ (pvno [1] 5, msg-type [2] 10) and §5.9.1
// KRB-ERROR (pvno [0] 5, msg-type [1] 30).
var (
	krbASReq = ber(0x6a, ber(0x30, ber(0xa1, ber(2, 5)), ber(0xa2, ber(2, 10)),
		ber(0xa4, ber(0x30, ber(0xa0, ber(3, 0, 0x40, 0x81, 0, 0x10)), ber(0xa2, ber(0x1b, "EXAMPLE.ORG"))))))
	krbError = ber(0x7e, ber(0x30, ber(0xa0, ber(2, 5)), ber(0xa1, ber(2, 30)), ber(0xa6, ber(2, 25))))
)

// RFC 4511 §4.2 BindRequest: version 3, name, simple authentication.
var ldapBind = ber(0x30, ber(2, 1), ber(0x60, ber(2, 3), ber(4, "cn=admin,dc=example"), ber(0x80, "secret")))

// RFC 1002 §4.2.12 name query (broadcast, recursion desired) for
// WORKSTATION<00>, and §4.2.2 a registration with its additional record.
var (
	nbQuery = lcat(lu16(0x1a2b), lu16(0x0110), lu16(1), lu16(0), lu16(0), lu16(0), nbName("WORKSTATION", 0), 0, lu16(0x20), lu16(1))
	nbReg   = lcat(lu16(0x1a2c), lu16(0x2910), lu16(1), lu16(0), lu16(0), lu16(1), nbName("FILESRV", 0x20), 0, lu16(0x20), lu16(1),
		lu16(0xc00c), lu16(0x20), lu16(1), lu32(300000), lu16(6), lu16(0), []byte{10, 0, 0, 5})
)

// RFC 1002 §4.4.2 direct group datagram from 10.0.0.5:138 carrying an SMB
// Trans (0x25) browser announcement.
func nbDatagram(cmd byte) []byte {
	smb := lcat(0xff, "SMB", cmd, make([]byte, 27), 17, make([]byte, 40))
	data := lcat(nbName("LAPTOP", 0), 0, nbName("WORKGROUP", 0x1d), 0, smb)
	return lcat(0x11, 0x02, lu16(0x8001), []byte{10, 0, 0, 5}, lu16(138), lu16(len(data)), lu16(0), data)
}

// RFC 1002 §4.3.2 session request: called and calling names.
var nbSession = lcat(0x81, 0, lu16(68), nbName("FILESRV", 0x20), 0, nbName("LAPTOP", 0), 0)

// MS-SMB2 §2.1 direct TCP transport: a zero byte and a 24-bit length.
func nbss(msg []byte) []byte { return lcat(0, 0, lu16(len(msg)), msg) }

// MS-CIFS §2.2.3.1 SMB header (32 bytes) and a parameter/data block.
func smb1(cmd byte) []byte {
	return nbss(lcat(0xff, "SMB", cmd, make([]byte, 27), 0, lu16(8), "\x02NT LM 0"))
}

// MS-SMB2 §2.2.1 SMB2 header (64 bytes), NEGOTIATE (0).
var smb2Negotiate = nbss(lcat(0xfe, "SMB", lu16(64), make([]byte, 58), lu16(36), lu16(2), make([]byte, 32)))

// RFC 2131 §2 BOOTP layout and RFC 2132 options: a DISCOVER with host
// name, parameter request list and vendor class.
func dhcpMsg(op byte, opts []byte) []byte {
	h := make([]byte, 236)
	h[0], h[1], h[2] = op, 1, 6
	copy(h[4:], []byte{0xde, 0xad, 0xbe, 0xef})
	copy(h[28:], []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55})
	return lcat(h, []byte{99, 130, 83, 99}, opts, 255)
}

var dhcpDiscover = dhcpMsg(1, lcat(53, 1, 1, 12, 5, "host1", 55, 4, 1, 3, 6, 15, 60, 8, "MSFT 5.0"))

// RFC 8415 §16.2 SOLICIT: client identifier (DUID-LL), elapsed time,
// option request.
var dhcpv6Solicit = lcat(1, 0x12, 0x34, 0x56, lu16(1), lu16(10), lu16(3), lu16(1), []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55},
	lu16(8), lu16(2), lu16(0), lu16(6), lu16(4), lu16(23), lu16(24))

// RFC 5905 §7.3: LI 0, version 4, mode 3 (client), then the 48-byte header.
var ntpClient = lcat(0x23, make([]byte, 47))

// collectd binary protocol: host part (type 0) then a high-resolution time (8).
var collectdPkt = lcat(lu16(0), lu16(4+7), "devlap\x00", lu16(8), lu16(12), make([]byte, 8))

// RFC 2281 §5: version 0, hello, state active (16), hello 3 s, hold 10 s,
// priority 100, group 1, reserved, authentication "cisco", virtual IP.
var hsrpHello = lcat(0, 0, 16, 3, 10, 100, 1, 0, "cisco\x00\x00\x00", []byte{10, 0, 0, 1})

// DSP0136 §3.2.4.1 ASF Presence Ping: RMCP header (version 6, reserved,
// sequence 0xff, class ASF) and ASF message (IANA 4542, type 0x80).
var rmcpPing = lcat(6, 0, 0xff, 6, lu32(4542), 0x80, 0, 0, 0)

// IEEE 1588-2008 §13.6 Sync: messageType 0, version 2, length 44.
var ptpSync = lcat(0, 2, lu16(44), make([]byte, 40))

// RFC 5880 §4.1: version 1, state Up, detect multiplier 3, length 24,
// discriminators and intervals.
var bfdControl = lcat(0x20, 0xc0, 3, 24, lu32(1), lu32(2), lu32(1000000), lu32(1000000), lu32(0))

// sFlow v5 datagram header with no samples.
var sflowHdr = lcat(lu32(5), lu32(1), []byte{192, 0, 2, 1}, lu32(0), lu32(7), lu32(123456), lu32(0))

// PRS_SOMEIPProtocol §4.1.2: a notification (type 2) with 4 bytes of payload.
var someipNote = lcat(lu16(0x1234), lu16(0x8001), lu32(12), lu16(0), lu16(1), 1, 1, 2, 0, lu32(42))

// TS 29.281 §5.1 GTPv1-U echo request; TS 29.274 §7.1.1 GTPv2-C echo
// request with a Recovery IE.
var (
	gtpuEcho = lcat(0x32, 1, lu16(4), lu32(0), lu16(1), 0, 0)
	gtpcEcho = lcat(0x40, 1, lu16(9), 0, 0, 1, 0, 3, lu16(1), 0, 5)
)

// XDMCP 1.1 §7: BroadcastQuery with no authentication names.
var xdmcpQuery = lcat(lu16(1), lu16(1), lu16(1), 0)

// RFC 7252 §3: confirmable GET for /.well-known/core.
var coapGet = lcat(0x40, 0x01, lu16(0x1234), 0xbb, ".well-known", 0x04, "core")

// Ether-S-Bus read request (length 13, version 1, protocol 0, sequence 1,
// request).
var esbusReq = lcat(lu32(13), 1, 0, lu16(1), 0, 0x0a, 0x20, 0x53, 0x18)

// IEC 61375-2-3: TRDP process data ("Pd"), version 1.0.
var trdpPD = lcat(lu32(1), 1, 0, "Pd", make([]byte, 56))

// MS-TDS §2.2.6.5 PRELOGIN (type 0x12), end of message, length 47.
var tdsPrelogin = lcat(0x12, 1, lu16(47), lu16(0), 1, 0, 0, lu16(26), lu16(6), 0xff, make([]byte, 33))

// MongoDB OP_QUERY on admin.$cmd and OP_MSG.
var (
	mongoQuery = func() []byte {
		body := lcat(lu32(0), "admin.$cmd\x00", l32(0), l32(1), l32(5), 0)
		return lcat(l32(16+len(body)), l32(1), l32(0), l32(2004), body)
	}()
	mongoMsg = func() []byte {
		body := lcat(l32(0), 0, l32(5), 0)
		return lcat(l32(16+len(body)), l32(2), l32(0), l32(2013), body)
	}()
)

// IEC 60870-5-104 §5.3: STARTDT act U-frame.
var iecStartDT = []byte{0x68, 0x04, 0x07, 0x00, 0x00, 0x00}

// IEEE 1815 §9.2.4: link header of a request.
var dnp3Frame = hx("0564 0ac4 0100 0300 4f2a c0c1 0102 3c02 0600 ab12")

// Modbus/TCP read holding registers (function 3), unit 1.
var modbusRead = lcat(lu16(1), lu16(0), lu16(6), 1, 3, lu16(0), lu16(2))

// RFC 4271 §4.4 KEEPALIVE.
var bgpKeepalive = lcat(hx("ffffffffffffffffffffffffffffffff"), lu16(19), 4)

// MQTT 3.1.1 §3.1 CONNECT: protocol "MQTT" level 4, clean session, keep
// alive 60, client id "c1".
var mqttConnect = lcat(0x10, 14, lu16(4), "MQTT", 4, 2, lu16(60), lu16(2), "c1")

// RFC 6120 §4.7 stream header.
var xmppStream = "<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"

// MS-RDPBCGR §2.2.1.1 X.224 Connection Request with a cookie and an
// RDP_NEG_REQ asking for TLS and CredSSP; §2.2.1.2 the confirm selecting
// CredSSP (2).
var (
	rdpCR = func() []byte {
		x := lcat(0xe0, lu16(0), lu16(0), 0, "Cookie: mstshash=user\r\n", 1, 0, l16(8), l32(3))
		return lcat(3, 0, lu16(4+1+len(x)), len(x), x)
	}()
	rdpCRPlain = func() []byte {
		x := lcat(0xe0, lu16(0), lu16(0), 0, "Cookie: mstshash=user\r\n")
		return lcat(3, 0, lu16(4+1+len(x)), len(x), x)
	}()
	rdpCC = lcat(3, 0, lu16(19), 14, 0xd0, lu16(0), lu16(0x1234), 0, 2, 0, l16(8), l32(2))
)

// A TLS 1.2 ClientHello record header and the start of its handshake.
var tlsHello = lcat(0x16, 3, 1, lu16(40), 1, 0, 0, 36, 3, 3, make([]byte, 32), 0, 0)

// MS-RDPEUDP §2.2.2.1: SYN (snSourceAck -1, flags SYN|CORRELATION_ID)
// and the server's SYN+ACK.
var (
	rdpUDPSyn    = lcat(lu32(-1), lu16(64), lu16(0x0801), lu32(0x11223344), make([]byte, 20))
	rdpUDPSynAck = lcat(lu32(0x55667788), lu16(64), lu16(0x0005), lu32(0x11223344), make([]byte, 20))
)

// FastCGI §5.1 BEGIN_REQUEST (responder) and a PARAMS record.
var (
	fcgiBegin     = lcat(1, 1, lu16(1), lu16(8), 0, 0, lu16(1), 0, 0, 0, 0, 0, 0)
	fcgiParamsRec = func() []byte {
		nv := lcat(9, 15, "HTTP_HOST", "www.example.org", 15, 8, "HTTP_USER_AGENT", "curl/8.0")
		return lcat(1, 4, lu16(1), lu16(len(nv)), 0, 0, nv)
	}()
)

// A PostgreSQL 3.0 StartupMessage.
var pgStartup = func() []byte {
	p := lcat(lu32(0x00030000), "user\x00alice\x00database\x00db\x00\x00")
	return lcat(lu32(4+len(p)), p)
}()

// MySQL HandshakeV10 from the server.
var mysqlGreeting = func() []byte {
	p := lcat(10, "8.0.36\x00", l32(8), "abcdefgh\x00", lu16(0xffff), 0xff, lu16(2), lu16(0xdfff), 21, make([]byte, 10), "ijklmnopqrst\x00", "mysql_native_password\x00")
	return lcat(byte(len(p)), byte(len(p)>>8), 0, 0, p)
}()

// Kafka ApiVersions request (key 18, version 3), client id "cli".
var kafkaReq = func() []byte {
	p := lcat(lu16(18), lu16(3), lu32(1), lu16(3), "cli", 0)
	return lcat(lu32(len(p)), p)
}()

// BeckhoffADS ReadDeviceInfo (command 1) with no data.
var adsReq = lcat(0, 0, l32(32), []byte{192, 168, 1, 8, 1, 1}, l16(851), []byte{192, 168, 1, 99, 1, 1}, l16(32905), l16(1), l16(4), l32(0), l32(0), l32(1))

// ANSI C12.22 ACSE PDU: called AP title, calling AP title.
var c1222PDU = ber(0x60, ber(0xa2, ber(6, 0x2b, 6, 1, 4, 1)), ber(0xa6, ber(6, 0x2b, 6, 1, 4, 2)), ber(0xbe, ber(0x28, ber(0x81, 0x30))))

// SMPP v3.4 §4.1.1 bind_transmitter.
var smppBind = func() []byte {
	p := lcat("user\x00", "pass\x00", "SMPP\x00", 0x34, 0, 0, 0)
	return lcat(lu32(16+len(p)), lu32(2), lu32(0), lu32(1), p)
}()

// canonical/raft handshake: protocol 1, server id 2, address.
var raftHello = lcat(l64(1), l64(2), l64(15), "127.0.0.1:9001\x00", 0)

// CIP I/O: sequenced address item and connected data item.
var cipIO = lcat(l16(2), l16(0x8002), l16(8), l32(1), l32(7), l16(0x00b1), l16(6), l16(7), l32(0))

// ASHRAE 135 Annex J: BVLC original-broadcast-NPDU, NPDU version 1, Who-Is.
var bacnetWhoIs = lcat(0x81, 0x0b, lu16(12), 1, 0x20, lu16(0xffff), 0, 0xff, 0x10, 0x08)

// RFC 5036 §3.5.2 Hello to 224.0.0.2:646.
var ldpHello = lcat(lu16(1), lu16(30), []byte{10, 0, 0, 1}, lu16(0), lu16(0x0100), lu16(20), lu32(1), lu16(0x0400), lu16(4), lu16(15), lu16(0), lu16(0x0401), lu16(4), []byte{10, 0, 0, 1})

// DCE/RPC C706 §12.6.4.3 bind on the endpoint mapper, little-endian.
var dceBind = lcat(5, 0, 11, 3, 0x10, 0, 0, 0, l16(72), l16(0), l32(1), l16(4280), l16(4280), l32(0), 1, 0, 0, 0, l16(0), 1, 0, make([]byte, 20), make([]byte, 20))

// C706 §12.5.3.1 connectionless request on the PROFINET IO device
// interface (big-endian UUIDs).
var pnioRequest = lcat(4, 0, 0x20, 0, 0, 0, 0, 0, make([]byte, 16),
	hx("dea000016c9711d1827100a02442df7d"), make([]byte, 16), make([]byte, 40))

// More server protocols.
var (
	// AFP DSI GetStatus request (flags 0, command 3).
	dsiGetStatus = lcat(0, 3, lu16(1), lu32(0), lu32(0), lu32(0))
	// RFC 1350 §5 read request.
	tftpRRQ = lcat(0, 1, "pxelinux.0\x00", "octet\x00")
	// TNS CONNECT with a connect descriptor.
	tnsConnect = func() []byte {
		d := "(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=orcl))(ADDRESS=(PROTOCOL=TCP)(HOST=db)(PORT=1521)))"
		return lcat(lu16(8+26+len(d)), lu16(0), 1, 0, lu16(0), make([]byte, 26), d)
	}()
	// ODVA EtherNet/IP RegisterSession: protocol version 1, options 0.
	enipRegister = lcat(l16(0x65), l16(4), l32(0), l32(0), make([]byte, 8), l32(0), l16(1), l16(0))
	// S7comm job (setup communication) over TPKT/COTP.
	s7Setup = func() []byte {
		s7 := lcat(0x32, 1, lu16(0), lu16(1), lu16(8), lu16(0), 0xf0, 0, lu16(1), lu16(1), lu16(480))
		return lcat(3, 0, lu16(4+3+len(s7)), 2, 0xf0, 0x80, s7)
	}()
	// OPC 10000-6 §7.1.2.3 Hello.
	opcuaHello = func() []byte {
		body := lcat(l32(0), l32(65536), l32(65536), l32(0), l32(0), l32(19), "opc.tcp://plc:4840/")
		return lcat("HELF", l32(8+len(body)), body)
	}()
	zabbixReq = lcat("ZBXD", 1, l32(10), l32(0), "agent.ping")
	gitReq    = []byte("0032git-upload-pack /project.git\x00host=example.org\x00")
	knxSearch = lcat(6, 0x10, lu16(0x0201), lu16(14), 8, 1, []byte{192, 0, 2, 1}, lu16(3671))
	ofHello   = lcat(4, 0, lu16(8), lu32(1))
	// RFC 6733 §5.3 Capabilities-Exchange-Request header.
	diameterCER = lcat(1, 0, 0, 20, 0x80, 0, 1, 1, lu32(0), lu32(1), lu32(2))
	// RFC 1813 NULL procedure call on NFSv3 over TCP.
	nfsNull = lcat(lu32(0x80000000|40), lu32(7), lu32(0), lu32(2), lu32(100003), lu32(3), lu32(0), lu32(0), lu32(0), lu32(0), lu32(0))
	// Cassandra OPTIONS request, protocol v4.
	cqlOptions = lcat(4, 0, lu16(0), 5, lu32(0))
)
