package dpi

import (
	"slices"
	"testing"
)

const (
	udp = IPProtoUDP
	tcp = IPProtoTCP
)

func lanCases() []lanCase {
	return []lanCase{
		// RFC 2608 §8.1 / RFC 2165 §7.
		{name: "SLPv2 SrvRqst", proto: udp, cli: "10.0.0.2:50000", srv: "239.255.255.253:427", pkts: []lanPkt{cs(slp2(1, 0x2000, slpSrvRqst))}, want: "Service_Location_Protocol", dpi: 1},
		{name: "SLPv1 SrvRqst", proto: udp, cli: "10.0.0.2:50000", srv: "10.0.0.3:427", pkts: []lanPkt{cs(lcat(1, 1, lu16(12+len(slpSrvRqst)), 0, 0, "en", lu16(3), lu16(0x42), slpSrvRqst))}, want: "Service_Location_Protocol"},
		{name: "SLPv2 over TCP", proto: tcp, cli: "10.0.0.2:50000", srv: "10.0.0.3:427", pkts: []lanPkt{cs(slp2(1, 0, slpSrvRqst))}, want: "Service_Location_Protocol", dpi: 4},
		{name: "SLPv2 bad length", proto: udp, cli: "10.0.0.2:50000", srv: "10.0.0.3:4270", pkts: []lanPkt{cs(lcat(slp2(1, 0, slpSrvRqst), 0))}, notLAN: true},
		{name: "SLPv2 reserved flags", proto: udp, cli: "10.0.0.2:50000", srv: "10.0.0.3:4270", pkts: []lanPkt{cs(slp2(1, 0x0001, slpSrvRqst))}, notLAN: true},
		// RFC 2865 §4.1, RFC 2866 §4.1.
		{name: "RADIUS Access-Request", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:1812", pkts: []lanPkt{cs(radiusPkt(1, lcat(1, 5, "bob")))}, want: "Radius", dpi: 1},
		{name: "RADIUS Accounting-Response", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:1813", pkts: []lanPkt{sc(radiusPkt(5, nil))}, want: "Radius"},
		{name: "RADIUS shape off port", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:1796", pkts: []lanPkt{cs(radiusPkt(1, lcat(1, 5, "bob")))}, notLAN: true},
		{name: "RADIUS bad code", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:1812", pkts: []lanPkt{cs(radiusPkt(37, nil))}, want: "Radius", check: guessedOnly},
		// RFC 3416, RFC 3412.
		{name: "SNMPv2c get and error response", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:161", pkts: []lanPkt{cs(snmpGet), sc(snmpRespErr)}, want: "SNMP", risks: []RiskID{RiskErrorCodeDetected}, dpi: 2},
		{name: "SNMPv2c clean response", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:161", pkts: []lanPkt{cs(snmpGet), sc(snmpRespOK)}, want: "SNMP", check: noRisk(RiskErrorCodeDetected)},
		{name: "SNMPv3", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:161", pkts: []lanPkt{cs(snmpV3)}, want: "SNMP", dpi: 1},
		// RFC 4120 §7.2.1, §7.2.2.
		{name: "Kerberos AS-REQ over UDP", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:88", pkts: []lanPkt{cs(krbASReq), sc(krbError)}, want: "Kerberos", dpi: 2},
		{name: "Kerberos AS-REQ over TCP", proto: tcp, cli: "10.0.0.2:40000", srv: "10.0.0.1:88", pkts: []lanPkt{cs(lcat(lu32(len(krbASReq)), krbASReq)), sc(lcat(lu32(len(krbError)), krbError))}, want: "Kerberos", dpi: 5},
		{name: "Kerberos wrong pvno", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:8888", pkts: []lanPkt{cs(ber(0x6a, ber(0x30, ber(0xa1, ber(2, 4)))))}, notLAN: true},
		// RFC 4511.
		{name: "LDAP bind", proto: tcp, cli: "10.0.0.2:40000", srv: "10.0.0.1:389", pkts: []lanPkt{cs(ldapBind)}, want: "LDAP"},
		{name: "CLDAP search", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:389", pkts: []lanPkt{cs(ber(0x30, ber(2, 5), ber(0x63, ber(4, ""), ber(0x0a, 0), ber(0x0a, 0), ber(2, 0), ber(2, 0), ber(1, 0), ber(0x87, "objectClass"), ber(0x30))))}, want: "LDAP"},
		// RFC 1002.
		{name: "NetBIOS name query", proto: udp, cli: "10.0.0.5:137", srv: "10.0.0.255:137", pkts: []lanPkt{cs(nbQuery)}, want: "NetBIOS", host: "workstation", dpi: 1},
		{name: "NetBIOS registration", proto: udp, cli: "10.0.0.5:137", srv: "10.0.0.1:137", pkts: []lanPkt{cs(nbReg)}, want: "NetBIOS", host: "filesrv"},
		{name: "NetBIOS datagram with SMB browser", proto: udp, cli: "10.0.0.5:138", srv: "10.0.0.255:138", pkts: []lanPkt{cs(nbDatagram(0x25))}, want: "NetBIOS.SMBv1", host: "laptop", risks: []RiskID{RiskUnsafeProtocol}, check: noRisk(RiskSMBInsecureVersion)},
		{name: "NetBIOS datagram, spoofed source", proto: udp, cli: "10.0.0.6:138", srv: "10.0.0.255:138", pkts: []lanPkt{cs(nbDatagram(0x25))}, want: "NetBIOS", check: guessedOnly},
		{name: "NetBIOS session request", proto: tcp, cli: "10.0.0.5:40000", srv: "10.0.0.1:139", pkts: []lanPkt{cs(nbSession)}, want: "NetBIOS", dpi: 4},
		// MS-SMB2 §2.1, MS-CIFS.
		{name: "SMBv1 negotiate then session setup", proto: tcp, cli: "10.0.0.5:40000", srv: "10.0.0.1:445", pkts: []lanPkt{cs(smb1(0x72)), sc(smb1(0x72)), cs(smb1(0x73))}, want: "NetBIOS.SMBv1", risks: []RiskID{RiskSMBInsecureVersion, RiskUnsafeProtocol}, dpi: 6},
		{name: "SMB2 negotiate", proto: tcp, cli: "10.0.0.5:40000", srv: "10.0.0.1:445", pkts: []lanPkt{cs(smb2Negotiate)}, want: "NetBIOS.SMBv23", check: noRisk(RiskSMBInsecureVersion)},
		// RFC 2131, RFC 2132, RFC 8415.
		{name: "DHCP discover", proto: udp, cli: "10.0.0.9:68", srv: "255.255.255.255:67", pkts: []lanPkt{cs(dhcpDiscover)}, want: "DHCP", host: "host1", check: func(t *testing.T, r *Result) {
			if r.Meta == nil || r.Meta.DHCPFingerprint != "1,3,6,15" || r.Meta.DHCPClass != "MSFT 5.0" {
				t.Errorf("meta %+v: want fingerprint 1,3,6,15 and class MSFT 5.0", r.Meta)
			}
		}},
		{name: "BOOTP without DHCP message type", proto: udp, cli: "10.0.0.9:68", srv: "255.255.255.255:67", pkts: []lanPkt{cs(dhcpMsg(1, lcat(12, 5, "host1")))}, want: "DHCP", check: guessedOnly},
		{name: "DHCPv6 solicit", proto: udp, cli: "[fe80::1]:546", srv: "[ff02::1:2]:547", pkts: []lanPkt{cs(dhcpv6Solicit)}, want: "DHCPV6"},
		// RFC 5905.
		{name: "NTP client", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:123", pkts: []lanPkt{cs(ntpClient)}, want: "NTP"},
		{name: "NTP shape off port", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:1230", pkts: []lanPkt{cs(ntpClient)}, notLAN: true},
		{name: "collectd", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:25826", pkts: []lanPkt{cs(collectdPkt)}, want: "collectd", host: "devlap"},
		{name: "UBNT discovery", proto: udp, cli: "10.0.0.2:40000", srv: "255.255.255.255:10001", pkts: []lanPkt{cs([]byte{1, 0, 0, 0})}, want: "UBNTAC2"},
		{name: "HSRPv1 hello", proto: udp, cli: "10.0.0.2:1985", srv: "224.0.0.2:1985", pkts: []lanPkt{cs(hsrpHello)}, want: "HSRP"},
		{name: "HSRP to the wrong group", proto: udp, cli: "10.0.0.2:1985", srv: "10.0.0.3:1985", pkts: []lanPkt{cs(hsrpHello)}, want: "HSRP", check: guessedOnly},
		{name: "RMCP presence ping", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:623", pkts: []lanPkt{cs(rmcpPing)}, want: "RMCP"},
		{name: "CAN over UDP", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:11898", pkts: []lanPkt{cs(lcat("ISO11898", 1, 2, make([]byte, 20)))}, want: "Controller_Area_Network"},
		{name: "LISP Map-Register", proto: udp, cli: "10.0.0.2:4342", srv: "10.0.0.1:4342", pkts: []lanPkt{cs(lcat(0x30, 0, 1, 1, make([]byte, 20)))}, want: "LISP"},
		{name: "LISP reliable transport", proto: tcp, cli: "10.0.0.2:40000", srv: "10.0.0.1:4342", pkts: []lanPkt{sc(lcat(lu16(20), lu16(15), make([]byte, 11)))}, want: "LISP"},
		{name: "PTPv2 sync", proto: udp, cli: "10.0.0.2:319", srv: "224.0.1.129:319", pkts: []lanPkt{cs(ptpSync)}, want: "PTPv2"},
		{name: "BFD control", proto: udp, cli: "10.0.0.2:49152", srv: "10.0.0.1:3784", pkts: []lanPkt{cs(bfdControl)}, want: "BFD"},
		{name: "BFD echo", proto: udp, cli: "10.0.0.2:49152", srv: "10.0.0.2:3785", pkts: []lanPkt{cs(make([]byte, 12))}, want: "BFD"},
		{name: "sFlow v5", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:6343", pkts: []lanPkt{cs(sflowHdr)}, want: "sFlow"},
		{name: "SOME/IP notification", proto: udp, cli: "10.0.0.2:30490", srv: "10.0.0.1:30490", pkts: []lanPkt{cs(someipNote)}, want: "SOMEIP"},
		{name: "Ether-S-Bus", proto: udp, cli: "10.0.0.2:2467", srv: "10.0.0.1:5050", pkts: []lanPkt{cs(esbusReq)}, want: "Ether-S-Bus"},
		{name: "GTP-U echo", proto: udp, cli: "10.0.0.2:2152", srv: "10.0.0.1:2152", pkts: []lanPkt{cs(gtpuEcho)}, want: "GTP.GTP_U"},
		{name: "GTPv2-C echo", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:2123", pkts: []lanPkt{cs(gtpcEcho)}, want: "GTP.GTP_C"},
		{name: "XDMCP broadcast query", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.255:177", pkts: []lanPkt{cs(xdmcpQuery)}, want: "XDMCP"},
		{name: "CPHA", proto: udp, cli: "10.0.0.2:8116", srv: "10.0.0.1:8116", pkts: []lanPkt{cs(lcat(lu16(0x1a90), make([]byte, 30)))}, want: "CPHA"},
		{name: "CoAP GET", proto: udp, cli: "[2001:db8::1]:40000", srv: "[2001:db8::2]:5683", pkts: []lanPkt{cs(coapGet)}, want: "COAP"},
		{name: "NAT-PMP external address", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:5351", pkts: []lanPkt{cs([]byte{0, 0})}, want: "NAT-PMP"},
		{name: "NAT-PMP wrong size", proto: udp, cli: "10.0.0.2:40000", srv: "10.0.0.1:5351", pkts: []lanPkt{cs([]byte{0, 0, 0})}, notLAN: true},
		{name: "Dropbox LAN sync", proto: udp, cli: "10.0.0.2:17500", srv: "10.0.0.255:17500", pkts: []lanPkt{cs([]byte(`{"version": [2, 0], "port": 17500, "host_int": 1234, "displayname": ""}`))}, want: "Dropbox"},
		{name: "SSDP M-SEARCH", proto: udp, cli: "10.0.0.2:50000", srv: "239.255.255.250:1900", pkts: []lanPkt{cs([]byte("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\nUSER-AGENT: test/1.0\r\n\r\n"))}, want: "SSDP", host: "239.255.255.250:1900", check: func(t *testing.T, r *Result) {
			if r.UserAgent != "test/1.0" {
				t.Errorf("user agent %q", r.UserAgent)
			}
		}},
		{name: "WSD probe", proto: udp, cli: "10.0.0.2:50000", srv: "239.255.255.250:3702", pkts: []lanPkt{cs([]byte(`<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"></soap:Envelope>`))}, want: "WSD"},

		// RFC 5321 with STARTTLS (RFC 3207): the session continues in TLS
		// and is named SMTPS; the greeting names the server.
		{name: "SMTP STARTTLS", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.25:25", pkts: []lanPkt{
			sc([]byte("220 mx.example.org ESMTP ready\r\n")), cs([]byte("EHLO client.example.org\r\n")),
			sc([]byte("250-mx.example.org\r\n250 STARTTLS\r\n")), cs([]byte("STARTTLS\r\n")),
			sc([]byte("220 2.0.0 Ready to start TLS\r\n")), cs(tlsHello)}, want: "SMTPS", host: "mx.example.org"},
		{name: "SMTP AUTH LOGIN", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.25:587", pkts: []lanPkt{
			sc([]byte("220 mail.example.org ESMTP\r\n")), cs([]byte("EHLO c\r\n")), sc([]byte("250 AUTH LOGIN\r\n")), cs([]byte("AUTH LOGIN\r\n"))}, want: "SMTP", risks: []RiskID{RiskClearTextCredentials}},
		{name: "SMTP on another port", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.25:2526", pkts: []lanPkt{
			sc([]byte("220 mail.example.org ESMTP\r\n")), cs([]byte("EHLO c\r\n"))}, want: "SMTP"},
		// RFC 1939.
		{name: "POP3 USER/PASS", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.110:110", pkts: []lanPkt{
			sc([]byte("+OK POP3 server ready\r\n")), cs([]byte("USER alice\r\n")), sc([]byte("+OK\r\n")), cs([]byte("PASS secret\r\n"))}, want: "POP3", risks: []RiskID{RiskClearTextCredentials, RiskUnsafeProtocol}},
		{name: "POP3 STLS", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.110:110", pkts: []lanPkt{
			sc([]byte("+OK POP3 server ready\r\n")), cs([]byte("STLS\r\n")), sc([]byte("+OK Begin TLS\r\n")), cs(tlsHello)}, want: "POPS"},
		// RFC 9051.
		{name: "IMAP LOGIN", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.143:143", pkts: []lanPkt{
			sc([]byte("* OK IMAP4rev1 ready\r\n")), cs([]byte("a1 CAPABILITY\r\n")), sc([]byte("* CAPABILITY IMAP4rev1\r\na1 OK\r\n")), cs([]byte("a2 LOGIN alice secret\r\n"))}, want: "IMAP", risks: []RiskID{RiskClearTextCredentials, RiskUnsafeProtocol}},
		{name: "IMAP STARTTLS", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.143:143", pkts: []lanPkt{
			sc([]byte("* OK IMAP4rev1 ready\r\n")), cs([]byte("a1 STARTTLS\r\n")), sc([]byte("a1 OK Begin TLS negotiation now\r\n")), cs(tlsHello)}, want: "IMAPS"},
		{name: "IMAPS port", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.143:993", pkts: []lanPkt{cs(tlsHello)}, want: "IMAPS"},
		{name: "POPS mid-session", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.143:995", mid: true, pkts: []lanPkt{cs(lcat(0x17, 3, 3, lu16(20), make([]byte, 20))), sc(lcat(0x17, 3, 3, lu16(30), make([]byte, 30)))}, want: "POPS", dpi: 1},
		// RFC 959, RFC 4217.
		{name: "FTP login", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.21:21", pkts: []lanPkt{
			sc([]byte("220 ProFTPD Server ready\r\n")), cs([]byte("USER bob\r\n")), sc([]byte("331 Password required\r\n")), cs([]byte("PASS hunter2\r\n"))}, want: "FTP_CONTROL", risks: []RiskID{RiskClearTextCredentials, RiskUnsafeProtocol}},
		{name: "FTP AUTH TLS", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.21:21", pkts: []lanPkt{
			sc([]byte("220 FTP ready\r\n")), cs([]byte("AUTH TLS\r\n")), sc([]byte("234 AUTH TLS OK.\r\n")), cs(tlsHello)}, want: "FTPS"},
		// RFC 854.
		{name: "Telnet negotiation", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.23:23", pkts: []lanPkt{
			sc([]byte{0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20, 0xff, 0xfd, 0x23}), cs([]byte{0xff, 0xfb, 0x18}), sc([]byte("Password: ")), cs([]byte("hunter2\r\n"))}, want: "Telnet", risks: []RiskID{RiskClearTextCredentials}},
		// MS-RDPBCGR, MS-RDPEUDP.
		{name: "RDP standard security", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:3389", pkts: []lanPkt{cs(rdpCRPlain)}, want: "RDP", risks: []RiskID{RiskDesktopOrFileSharing}, dpi: 4},
		{name: "RDP over TLS", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:3389", pkts: []lanPkt{cs(rdpCR), sc(rdpCC), cs(tlsHello)}, want: "TLS.RDP", risks: []RiskID{RiskDesktopOrFileSharing}},
		{name: "RDP over UDP", proto: udp, cli: "10.0.0.2:40000", srv: "192.0.2.3:3389", pkts: []lanPkt{cs(rdpUDPSyn), sc(rdpUDPSynAck)}, want: "RDP", dpi: 2},
		// RFC 6143 §7.1.1.
		{name: "VNC", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:5900", pkts: []lanPkt{sc([]byte("RFB 003.008\n")), cs([]byte("RFB 003.008\n"))}, want: "VNC", risks: []RiskID{RiskDesktopOrFileSharing}, dpi: 5},
		{name: "MsSQL prelogin", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:1433", pkts: []lanPkt{cs(tdsPrelogin)}, want: "MsSQL-TDS"},
		{name: "MongoDB OP_QUERY", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:30000", pkts: []lanPkt{cs(mongoQuery)}, want: "MongoDB"},
		{name: "MongoDB OP_MSG", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:27017", pkts: []lanPkt{cs(mongoMsg)}, want: "MongoDB"},
		{name: "IEC 104 STARTDT", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:2404", pkts: []lanPkt{cs(iecStartDT)}, want: "IEC60870"},
		{name: "DNP3", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:20000", pkts: []lanPkt{cs(dnp3Frame)}, want: "DNP3"},
		{name: "Modbus", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:502", pkts: []lanPkt{cs(modbusRead)}, want: "Modbus"},
		{name: "Modbus shape off port", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:5020", pkts: []lanPkt{cs(modbusRead)}, notLAN: true},
		{name: "BGP keepalive", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:179", pkts: []lanPkt{cs(bgpKeepalive)}, want: "BGP"},
		{name: "MQTT connect", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:1883", pkts: []lanPkt{cs(mqttConnect)}, want: "MQTT"},
		{name: "MQTT ping off port", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:17501", mid: true, pkts: []lanPkt{cs([]byte{0xc0, 0})}, want: "MQTT"},
		{name: "XMPP stream", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:5222", pkts: []lanPkt{cs([]byte("<?xml version='1.0' ?>")), cs([]byte(xmppStream))}, want: "Jabber", dpi: 5},
		{name: "HP_VIRTGRP", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:5223", pkts: []lanPkt{cs(lcat(0x16, lu16(20), 0, make([]byte, 16)))}, want: "HP_VIRTGRP"},
		{name: "DCE/RPC bind", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:135", pkts: []lanPkt{cs(dceBind)}, want: "DCERPC"},
		{name: "PROFINET IO request", proto: udp, cli: "10.0.0.2:49155", srv: "10.0.0.3:34964", pkts: []lanPkt{cs(pnioRequest)}, want: "DCERPC.PROFINET_IO"},
		{name: "PostgreSQL startup", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:5432", pkts: []lanPkt{cs(pgStartup)}, want: "PostgreSQL"},
		{name: "PostgreSQL GSSENC refused", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:5432", pkts: []lanPkt{cs(lcat(lu32(8), lu32(80877104))), sc([]byte("N"))}, want: "PostgreSQL", dpi: 5},
		{name: "MySQL greeting", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:3306", pkts: []lanPkt{sc(mysqlGreeting)}, want: "MySQL"},
		{name: "Kafka ApiVersions", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:9092", pkts: []lanPkt{cs(kafkaReq)}, want: "Kafka"},
		{name: "AMQP 0-9-1", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:5672", pkts: []lanPkt{cs([]byte("AMQP\x00\x00\x09\x01"))}, want: "AMQP"},
		{name: "OpenWire", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:61616", pkts: []lanPkt{cs(lcat(lu32(20), 1, "ActiveMQ", make([]byte, 11)))}, want: "OpenWire"},
		{name: "STOMP", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:61613", pkts: []lanPkt{cs([]byte("STOMP\naccept-version:1.2\nhost:broker\n\n\x00"))}, want: "STOMP"},
		{name: "NATS", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:4222", pkts: []lanPkt{sc([]byte(`INFO {"server_id":"X","version":"2.10"}` + "\r\n"))}, want: "Nats"},
		{name: "Redis RESP", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:6379", pkts: []lanPkt{cs([]byte("*1\r\n$4\r\nPING\r\n"))}, want: "RESP"},
		{name: "Memcached", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:11211", pkts: []lanPkt{cs([]byte("get foo\r\n"))}, want: "Memcached"},
		{name: "Thrift binary", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:9090", pkts: []lanPkt{cs(lcat(0x80, 1, 0, 1, lu32(4), "ping", lu32(1), 0))}, want: "Thrift"},
		{name: "Thrift compact", proto: udp, cli: "10.0.0.2:40000", srv: "192.0.2.3:6831", pkts: []lanPkt{cs(lcat(0x82, 0x81, 1, 9, "emitBatch", 0x1c))}, want: "Thrift"},
		{name: "AJP CPing", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:8009", pkts: []lanPkt{cs([]byte{0x12, 0x34, 0, 1, 10})}, want: "AJP"},
		{name: "FastCGI", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:9000", pkts: []lanPkt{cs(fcgiBegin), cs(fcgiParamsRec)}, want: "FastCGI", host: "www.example.org", check: func(t *testing.T, r *Result) {
			if r.UserAgent != "curl/8.0" {
				t.Errorf("user agent %q", r.UserAgent)
			}
		}},
		{name: "SMPP bind", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:2775", pkts: []lanPkt{cs(smppBind)}, want: "SMPP"},
		{name: "Lustre acceptor", proto: tcp, cli: "10.0.0.2:1022", srv: "192.0.2.3:988", pkts: []lanPkt{cs(lcat(l32(0xacce7100), l32(1), make([]byte, 8)))}, want: "Lustre"},
		{name: "Raft handshake", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:9002", pkts: []lanPkt{cs(raftHello)}, want: "Raft"},
		{name: "Checkmk", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:6556", pkts: []lanPkt{sc([]byte("<<<check_mk>>>\nVersion: 2.2.0\n"))}, want: "CHECKMK"},
		{name: "HL7 MLLP", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:6661", pkts: []lanPkt{cs([]byte("\x0bMSH|^~\\&|APP|FAC|||20240101||ADT^A01|1|P|2.5\r\x1c\r"))}, want: "HL7"},
		{name: "Beckhoff ADS", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:48898", pkts: []lanPkt{cs(adsReq)}, want: "BeckhoffADS"},
		{name: "ANSI C12.22", proto: udp, cli: "10.0.0.2:40000", srv: "192.0.2.3:1153", pkts: []lanPkt{cs(c1222PDU)}, want: "ANSI_C1222"},
		{name: "ATG inventory", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:10001", pkts: []lanPkt{cs([]byte("\x01I20100\r\n"))}, want: "ATG"},
		{name: "TRDP", proto: udp, cli: "10.0.0.2:40000", srv: "192.0.2.3:17224", pkts: []lanPkt{cs(trdpPD)}, want: "TRDP"},
		{name: "CIP I/O", proto: udp, cli: "10.0.0.2:2222", srv: "192.0.2.3:2222", pkts: []lanPkt{cs(cipIO)}, want: "CIP"},
		{name: "BACnet Who-Is", proto: udp, cli: "10.0.0.2:47808", srv: "10.0.0.255:47808", pkts: []lanPkt{cs(bacnetWhoIs)}, want: "BACnet"},
		{name: "LDP hello", proto: udp, cli: "10.0.0.1:646", srv: "224.0.0.2:646", pkts: []lanPkt{cs(ldpHello)}, want: "LDP"},
		{name: "WHOIS", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:43", pkts: []lanPkt{cs([]byte("example.com\r\n"))}, want: "Whois-DAS", host: "example.com"},
		{name: "NNTP greeting", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:119", pkts: []lanPkt{sc([]byte("200 news.example.org NNTP server ready\r\n"))}, want: "Usenet"},
		{name: "RTSP SETUP", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:8554", pkts: []lanPkt{cs([]byte("SETUP rtsp://192.0.2.3:8554/track1 RTSP/1.0\r\nCSeq: 3\r\nUser-Agent: LibVLC/3.0\r\n\r\n"))}, want: "RTSP"},
		{name: "RTMP handshake", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:1935", pkts: []lanPkt{cs(lcat(3, make([]byte, 1536)))}, want: "RTMP"},
		{name: "Syslog RFC 5424", proto: udp, cli: "10.0.0.2:40000", srv: "192.0.2.3:5140", pkts: []lanPkt{cs([]byte("<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - 'su root' failed"))}, want: "Syslog"},
		{name: "Syslog RFC 3164 on 514", proto: udp, cli: "10.0.0.2:40000", srv: "192.0.2.3:514", pkts: []lanPkt{cs([]byte("<13>Oct 11 22:14:15 host app: hello"))}, want: "Syslog"},

		{name: "AFP DSI", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:548", pkts: []lanPkt{cs(dsiGetStatus)}, want: "AFP"},
		{name: "TFTP read request", proto: udp, cli: "10.0.0.2:40000", srv: "192.0.2.3:69", pkts: []lanPkt{cs(tftpRRQ)}, want: "TFTP"},
		{name: "Oracle TNS connect", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:1522", pkts: []lanPkt{cs(tnsConnect)}, want: "Oracle"},
		{name: "EtherNet/IP RegisterSession", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:44818", pkts: []lanPkt{cs(enipRegister)}, want: "EthernetIP"},
		{name: "S7comm setup", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:102", pkts: []lanPkt{cs(s7Setup)}, want: "S7Comm"},
		{name: "OPC UA hello", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:4840", pkts: []lanPkt{cs(opcuaHello)}, want: "OPC-UA"},
		{name: "Zabbix", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:10050", pkts: []lanPkt{cs(zabbixReq)}, want: "Zabbix"},
		{name: "git protocol", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:9418", pkts: []lanPkt{cs(gitReq)}, want: "Git"},
		{name: "rsync daemon", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:873", pkts: []lanPkt{sc([]byte("@RSYNCD: 31.0\n"))}, want: "RSYNC"},
		{name: "KNXnet/IP search", proto: udp, cli: "10.0.0.2:3671", srv: "224.0.23.12:3671", pkts: []lanPkt{cs(knxSearch)}, want: "KNXnet_IP"},
		{name: "OpenFlow hello", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:6653", pkts: []lanPkt{cs(ofHello)}, want: "OpenFlow"},
		{name: "Diameter CER", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:3868", pkts: []lanPkt{cs(diameterCER)}, want: "Diameter"},
		{name: "NFSv3 NULL", proto: tcp, cli: "10.0.0.2:800", srv: "192.0.2.3:2049", pkts: []lanPkt{cs(nfsNull)}, want: "NFS"},
		{name: "Munin", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:4949", pkts: []lanPkt{sc([]byte("# munin node at host.example.org\n"))}, want: "Munin"},
		{name: "Cassandra OPTIONS", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:9042", pkts: []lanPkt{cs(cqlOptions)}, want: "Cassandra"},

		// Traffic this family must leave alone.
		{name: "TLS ClientHello on 443", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:443", pkts: []lanPkt{cs(tlsHello)}, notLAN: true},
		{name: "HTTP request", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:8081", pkts: []lanPkt{cs([]byte("GET / HTTP/1.1\r\nHost: example.org\r\nUser-Agent: curl\r\n\r\n"))}, want: "HTTP"},
		{name: "DNS query", proto: udp, cli: "10.0.0.2:40000", srv: "192.0.2.3:53", pkts: []lanPkt{cs(hx("1234 0100 0001 0000 0000 0000 076578616d706c65 03636f6d 00 0001 0001"))}, want: "DNS", host: "example.com"},
		{name: "random bytes", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:40001", pkts: []lanPkt{cs(hx("9f3a51c2e00b7d41a6c3f28e5510bc2e7a9d")), sc(hx("0b73e1d2c4a59f08"))}, notLAN: true},
		{name: "random UDP", proto: udp, cli: "10.0.0.2:40000", srv: "192.0.2.3:40001", pkts: []lanPkt{cs(hx("01b802bfdcf1ac9646d9db09" + "00000000000000000000000000000000"))}, notLAN: true},
		{name: "greeting then binary", proto: tcp, cli: "10.0.0.2:40000", srv: "192.0.2.3:4000", pkts: []lanPkt{sc([]byte("+OK ready\r\n")), cs(hx("00010203"))}, notLAN: true},
	}
}

// guessedOnly checks that DPI did not claim the flow (a port guess may).
func guessedOnly(t *testing.T, r *Result) {
	t.Helper()
	if r.Confidence == ConfDPI {
		t.Errorf("classified by DPI as %s; only a port guess was expected", r.AppName())
	}
}

func noRisk(id RiskID) func(*testing.T, *Result) {
	return func(t *testing.T, r *Result) {
		t.Helper()
		if r.Risks.Has(id) {
			t.Errorf("unexpected risk %q", id)
		}
	}
}

func TestLANDissectors(t *testing.T) {
	for _, tc := range lanCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.run(t)
			if tc.notLAN {
				if r.Confidence == ConfDPI {
					t.Fatalf("classified as %s by DPI; want no classification from this family", r.AppName())
				}
				return
			}
			if got := r.AppName(); got != tc.want {
				t.Fatalf("application %q (confidence %s), want %q", got, r.Confidence, tc.want)
			}
			if tc.check == nil && r.Confidence != ConfDPI {
				t.Errorf("confidence %s, want dpi", r.Confidence)
			}
			if tc.host != "" && r.Hostname != tc.host {
				t.Errorf("hostname %q, want %q", r.Hostname, tc.host)
			}
			for _, rk := range tc.risks {
				if !r.Risks.Has(rk) {
					t.Errorf("risk %q missing (have %v)", rk, r.Risks.AppendNames(nil))
				}
			}
			if tc.dpi != 0 && int(r.DPIPackets) != tc.dpi {
				t.Errorf("dpi packets %d, want %d", r.DPIPackets, tc.dpi)
			}
			if tc.check != nil {
				tc.check(t, &r)
			}
		})
	}
}

// TestLANDissectorNames keeps the dissector table tidy: unique names and
// ports that the port hint can use.
func TestLANDissectorNames(t *testing.T) {
	var seen []string
	for _, d := range lanDissectors {
		if slices.Contains(seen, d.name) {
			t.Errorf("dissector %q listed twice", d.name)
		}
		seen = append(seen, d.name)
		if d.l4 == 0 || d.fn == nil {
			t.Errorf("dissector %q has no transport or function", d.name)
		}
	}
	for _, l := range lanPorts {
		if _, ok := ProtoByName(splitFirst(l)); !ok {
			t.Errorf("lanPorts line %q names no protocol nDPI knows", l)
		}
	}
}

func splitFirst(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i]
		}
	}
	return s
}
