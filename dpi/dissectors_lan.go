package dpi

// lanDissectors are the detectors of this family, in priority order: those
// with the most specific signatures (magic numbers, exact length fields)
// come first, loose text matchers last, so that a strict matcher claims a
// payload before a heuristic can.
var lanDissectors = []dissector{
	// UDP (and some TCP) protocols recognised from one packet.
	{name: "DHCP", l4: onUDP, udpPorts: []uint16{67, 68}, fn: dissectDHCP},
	{name: "DHCPv6", l4: onUDP, udpPorts: []uint16{546, 547}, fn: dissectDHCPv6},
	{name: "NetBIOS", l4: onTCP | onUDP, tcpPorts: []uint16{139}, udpPorts: []uint16{137, 138}, fn: dissectNetBIOS},
	{name: "SLP", l4: onTCP | onUDP, tcpPorts: []uint16{427}, udpPorts: []uint16{427}, fn: dissectSLP},
	{name: "Radius", l4: onUDP, udpPorts: []uint16{1812, 1813, 1645, 1646, 3799}, fn: dissectRadius},
	{name: "SNMP", l4: onUDP, udpPorts: []uint16{161, 162}, fn: dissectSNMP},
	{name: "Kerberos", l4: onTCP | onUDP, tcpPorts: []uint16{88}, udpPorts: []uint16{88}, fn: dissectKerberos},
	{name: "LDAP", l4: onTCP | onUDP, tcpPorts: []uint16{389, 3268}, udpPorts: []uint16{389}, fn: dissectLDAP},
	{name: "SMB", l4: onTCP, tcpPorts: []uint16{445}, fn: dissectSMB},
	{name: "NTP", l4: onUDP, udpPorts: []uint16{123}, fn: dissectNTP},
	{name: "collectd", l4: onUDP, udpPorts: []uint16{25826}, fn: dissectCollectd},
	{name: "UBNTAC2", l4: onUDP, udpPorts: []uint16{10001}, fn: dissectUBNTAC2},
	{name: "HSRP", l4: onUDP, udpPorts: []uint16{1985, 2029}, fn: dissectHSRP},
	{name: "RMCP", l4: onUDP, udpPorts: []uint16{623}, fn: dissectRMCP},
	{name: "CAN", l4: onTCP | onUDP, fn: dissectCAN},
	{name: "LISP", l4: onTCP | onUDP, tcpPorts: []uint16{4342}, udpPorts: []uint16{4341, 4342}, fn: dissectLISP},
	{name: "PTPv2", l4: onUDP, udpPorts: []uint16{319, 320}, fn: dissectPTPv2},
	{name: "BFD", l4: onUDP, udpPorts: []uint16{3784, 3785, 4784}, fn: dissectBFD},
	{name: "sFlow", l4: onUDP, udpPorts: []uint16{6343}, fn: dissectSFlow},
	{name: "SOMEIP", l4: onTCP | onUDP, tcpPorts: []uint16{30491, 30501, 30490}, udpPorts: []uint16{30491, 30501, 30490}, fn: dissectSOMEIP},
	{name: "Ether-S-Bus", l4: onUDP, udpPorts: []uint16{5050}, fn: dissectEtherSBus},
	{name: "GTP", l4: onUDP, udpPorts: []uint16{2152, 2123, 3386}, fn: dissectGTP},
	{name: "XDMCP", l4: onUDP, udpPorts: []uint16{177}, fn: dissectXDMCP},
	{name: "CPHA", l4: onUDP, udpPorts: []uint16{8116}, fn: dissectCPHA},
	{name: "COAP", l4: onUDP, udpPorts: []uint16{5683, 5684}, fn: dissectCOAP},
	{name: "NAT-PMP", l4: onUDP, udpPorts: []uint16{5351}, fn: dissectNATPMP},
	{name: "Dropbox", l4: onUDP, udpPorts: []uint16{17500}, fn: dissectDropbox},
	// TCP protocols.
	{name: "TLS-mail-ports", l4: onTCP, tcpPorts: []uint16{993, 995, 465}, fn: dissectTLSPorts},
	{name: "FTP_DATA", l4: onTCP, fn: dissectFTPData},
	{name: "BGP", l4: onTCP, tcpPorts: []uint16{179}, fn: dissectBGP},
	{name: "RDP", l4: onTCP | onUDP, tcpPorts: []uint16{3389}, udpPorts: []uint16{3389}, fn: dissectRDP},
	{name: "VNC", l4: onTCP, tcpPorts: []uint16{5900, 5901}, fn: dissectVNC},
	{name: "MsSQL-TDS", l4: onTCP, tcpPorts: []uint16{1433, 1434}, fn: dissectMsSQLTDS},
	{name: "MongoDB", l4: onTCP, tcpPorts: []uint16{27017}, fn: dissectMongoDB},
	{name: "HP_VIRTGRP", l4: onTCP, fn: dissectHPVIRTGRP},
	{name: "IEC60870", l4: onTCP, tcpPorts: []uint16{2404}, fn: dissectIEC104},
	{name: "DNP3", l4: onTCP | onUDP, tcpPorts: []uint16{20000}, udpPorts: []uint16{20000}, fn: dissectDNP3},
	{name: "Modbus", l4: onTCP, tcpPorts: []uint16{502}, fn: dissectModbus},
	{name: "SMTP", l4: onTCP, tcpPorts: []uint16{25, 587}, fn: dissectSMTP},
	{name: "POP3", l4: onTCP, tcpPorts: []uint16{110}, fn: dissectPOP3},
	{name: "IMAP", l4: onTCP, tcpPorts: []uint16{143}, fn: dissectIMAP},
	{name: "FTP_CONTROL", l4: onTCP, tcpPorts: []uint16{21}, fn: dissectFTP},
	{name: "Telnet", l4: onTCP, tcpPorts: []uint16{23}, fn: dissectTelnet},
	{name: "Jabber", l4: onTCP, tcpPorts: []uint16{5222, 5269}, fn: dissectJabber},
	{name: "MQTT", l4: onTCP, tcpPorts: []uint16{1883, 8883}, fn: dissectMQTT},
	{name: "DCERPC", l4: onTCP | onUDP, tcpPorts: []uint16{135}, udpPorts: []uint16{135, 34964}, fn: dissectDCERPC},
	{name: "PostgreSQL", l4: onTCP, tcpPorts: []uint16{5432}, fn: dissectPostgreSQL},
	{name: "MySQL", l4: onTCP, tcpPorts: []uint16{3306}, fn: dissectMySQL},
	{name: "Kafka", l4: onTCP, tcpPorts: []uint16{9092}, fn: dissectKafka},
	{name: "AMQP", l4: onTCP, tcpPorts: []uint16{5672}, fn: dissectAMQP},
	{name: "OpenWire", l4: onTCP, tcpPorts: []uint16{61616}, fn: dissectOpenWire},
	{name: "STOMP", l4: onTCP, tcpPorts: []uint16{61613}, fn: dissectSTOMP},
	{name: "Nats", l4: onTCP, tcpPorts: []uint16{4222}, fn: dissectNats},
	{name: "RESP", l4: onTCP, tcpPorts: []uint16{6379}, fn: dissectRESP},
	{name: "Memcached", l4: onTCP | onUDP, tcpPorts: []uint16{11211}, udpPorts: []uint16{11211}, fn: dissectMemcached},
	{name: "Thrift", l4: onTCP | onUDP, tcpPorts: []uint16{9090}, udpPorts: []uint16{6831, 6832}, fn: dissectThrift},
	{name: "AJP", l4: onTCP, tcpPorts: []uint16{8009}, fn: dissectAJP},
	{name: "FastCGI", l4: onTCP, tcpPorts: []uint16{9000}, fn: dissectFastCGI},
	{name: "SMPP", l4: onTCP, tcpPorts: []uint16{2775}, fn: dissectSMPP},
	{name: "Lustre", l4: onTCP, tcpPorts: []uint16{988}, fn: dissectLustre},
	{name: "Raft", l4: onTCP, fn: dissectRaft},
	{name: "CHECKMK", l4: onTCP, tcpPorts: []uint16{6556}, fn: dissectCHECKMK},
	{name: "HL7", l4: onTCP, tcpPorts: []uint16{2575}, fn: dissectHL7},
	{name: "BeckhoffADS", l4: onTCP, tcpPorts: []uint16{48898}, fn: dissectBeckhoffADS},
	{name: "ANSI_C1222", l4: onTCP | onUDP, tcpPorts: []uint16{1153}, udpPorts: []uint16{1153}, fn: dissectC1222},
	{name: "ATG", l4: onTCP, tcpPorts: []uint16{10001}, fn: dissectATG},
	{name: "TRDP", l4: onTCP | onUDP, tcpPorts: []uint16{17225}, udpPorts: []uint16{17224, 17225}, fn: dissectTRDP},
	{name: "CIP", l4: onUDP, udpPorts: []uint16{2222}, fn: dissectCIP},
	{name: "BACnet", l4: onUDP, udpPorts: []uint16{47808}, fn: dissectBACnet},
	{name: "LDP", l4: onTCP | onUDP, tcpPorts: []uint16{646}, udpPorts: []uint16{646}, fn: dissectLDP},
	{name: "Whois-DAS", l4: onTCP, tcpPorts: []uint16{43}, fn: dissectWhois},
	{name: "Usenet", l4: onTCP, tcpPorts: []uint16{119}, fn: dissectUsenet},
	{name: "RTSP", l4: onTCP | onUDP, tcpPorts: []uint16{554}, fn: dissectRTSP},
	{name: "RTMP", l4: onTCP, tcpPorts: []uint16{1935}, fn: dissectRTMP},
	{name: "Syslog", l4: onTCP | onUDP, tcpPorts: []uint16{514, 601, 6514}, udpPorts: []uint16{514}, fn: dissectSyslog},
	{name: "AFP", l4: onTCP, tcpPorts: []uint16{548}, fn: dissectAFP},
	{name: "TFTP", l4: onUDP, udpPorts: []uint16{69}, fn: dissectTFTP},
	{name: "Oracle", l4: onTCP, tcpPorts: []uint16{1521}, fn: dissectOracle},
	{name: "EthernetIP", l4: onTCP | onUDP, tcpPorts: []uint16{44818}, udpPorts: []uint16{44818}, fn: dissectEthernetIP},
	{name: "S7Comm", l4: onTCP, tcpPorts: []uint16{102}, fn: dissectS7Comm},
	{name: "OPC-UA", l4: onTCP, tcpPorts: []uint16{4840}, fn: dissectOPCUA},
	{name: "Zabbix", l4: onTCP, tcpPorts: []uint16{10050, 10051}, fn: dissectZabbix},
	{name: "Git", l4: onTCP, tcpPorts: []uint16{9418}, fn: dissectGit},
	{name: "RSYNC", l4: onTCP, tcpPorts: []uint16{873}, fn: dissectRSYNC},
	{name: "KNXnet_IP", l4: onUDP | onTCP, udpPorts: []uint16{3671}, tcpPorts: []uint16{3671}, fn: dissectKNX},
	{name: "OpenFlow", l4: onTCP, tcpPorts: []uint16{6653, 6633}, fn: dissectOpenFlow},
	{name: "Diameter", l4: onTCP, tcpPorts: []uint16{3868}, fn: dissectDiameter},
	{name: "NFS", l4: onTCP | onUDP, tcpPorts: []uint16{2049}, udpPorts: []uint16{2049}, fn: dissectNFS},
	{name: "Munin", l4: onTCP, tcpPorts: []uint16{4949}, fn: dissectMunin},
	{name: "Cassandra", l4: onTCP, tcpPorts: []uint16{9042}, fn: dissectCassandra},
	{name: "SSDP", l4: onUDP, udpPorts: []uint16{1900}, fn: dissectSSDP},
	{name: "WSD", l4: onUDP, udpPorts: []uint16{3702}, fn: dissectWSD},
	{name: "AVASTSecureDNS", l4: onUDP, udpPorts: []uint16{443}, fn: dissectAvastSecureDNS},
	{name: "AVAST", l4: onTCP, fn: dissectAvast},
}

// lanState is the per-flow state of this family's dissectors: a few bytes
// per protocol that needs more than one packet.
type lanState struct {
	snmp uint8 // an SNMP v1/v2c request was seen; the response is next
	krb  uint8 // a Kerberos KDC request was seen; the reply is next
	// text protocols: txtGreeted, txtKnown, txtStartTLS, txtTLS
	smtp, pop, imap, ftp uint8
	tlsPort              uint8 // TLS seen on an implicit-TLS mail port
	telnet               uint8 // 1 classified, 2 a password prompt was seen
	vnc                  uint8 // the first RFB banner was seen
	rdp                  uint8 // TCP: 1 CR seen, 2 TLS expected, 3 TLS; UDP: see rdpUDP
	rdpDir               uint8
	rdpSeq               uint32
	fcgi                 uint8 // FastCGI: packets since BEGIN_REQUEST
	pg                   uint8 // PostgreSQL: an SSL/GSS request awaits its one-byte answer
}

// lanPorts are default ports of this family's protocols (see ports.go) that
// corePorts does not already list.
var lanPorts = []string{
	"RMCP u:623",
	"PTPv2 u:319,320",
	"BFD u:3784,3785",
	"DHCPV6 u:546,547",
	"RDP u:3389",
	"DCERPC t:135 u:135",
	"LDP t:646 u:646",
	"TRDP t:17225 u:17224,17225",
	"CIP u:2222",
	"BeckhoffADS t:48898",
	"ANSI_C1222 t:1153 u:1153",
	"CHECKMK t:6556",
	"STOMP t:61613",
	"OpenWire t:61616",
	"Lustre t:988",
	"RESP t:6379",
}

// lanShared is engine-wide state of this family (caches that outlive a
// flow, such as peers already seen speaking a protocol). One per engine.
type lanShared struct {
	ftp ftpExpectTable // data connections announced by FTP control connections
}

// lanSet classifies the flow as a protocol of this family (the engine
// adds the unsafe-protocol risk by breed when the flow is final).
func lanSet(c *Ctx, master, app ProtoID) {
	c.Set(master, app)
}

// lanDone classifies the flow and ends inspection.
func lanDone(c *Ctx, p ProtoID) Status {
	lanSet(c, p, 0)
	return Done
}

// hasPort reports whether either end of the flow uses port p.
func hasPort(c *Ctx, p uint16) bool { return c.ServerPort() == p || c.ClientPort() == p }

// dstPort is the destination port of the current packet.
func dstPort(c *Ctx) uint16 { return c.Pkt.DstPort }

// index finds s in b; -1 when absent.
func index(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if b[i] == s[0] && string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}
