package dpi

import "strings"

// defaultPorts are nDPI's per-protocol default ports, used only to guess a
// protocol when DPI gives up (nDPI's "Match by port") and to flag a known
// protocol on a non-standard port. Format: name, then "t:PORTS" and/or
// "u:PORTS" with comma-separated ports or ranges. Each family of
// dissectors may add its own list (p2pPorts, realtimePorts, lanPorts in
// their files); the first protocol listed for a port wins.
var defaultPorts = concatPorts(corePorts, p2pPorts, realtimePorts, lanPorts)

func concatPorts(lists ...[]string) []string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

var corePorts = []string{
	"FTP_CONTROL t:21", "FTP_DATA t:20", "POP3 t:110", "POPS t:995", "SMTP t:25,587", "SMTPS t:465",
	"IMAP t:143", "IMAPS t:993", "DNS t:53 u:53", "IPP t:631", "HTTP t:80", "MDNS u:5353,5354",
	"NTP u:123", "NetBIOS t:139 u:137,138,139", "NFS t:2049 u:2049", "BGP t:179",
	"SNMP u:161,162", "XDMCP t:177 u:177", "SMBv23 t:445", "Syslog t:514,601,6514 u:514",
	"DHCP u:67,68", "PostgreSQL t:5432", "MySQL t:3306", "Telnet t:23", "SSH t:22", "TLS t:443",
	"QUIC u:443", "RDP t:3389", "Kerberos t:88 u:88", "LDAP t:389 u:389", "MsSQL-TDS t:1433,1434",
	"Radius u:1812,1813,1645,1646", "SIP t:5060,5061 u:5060,5061", "STUN u:3478",
	"OpenVPN t:1194 u:1194", "IPSec t:500 u:500,4500", "WireGuard u:51820",
	"BitTorrent t:51413,53646 u:6771,51413", "Service_Location_Protocol t:427 u:427",
	"RESP t:6379", "MongoDB t:27017", "Memcached t:11211 u:11211", "MQTT t:1883,8883",
	"AMQP t:5672", "Kafka t:9092", "Modbus t:502", "DNP3 t:20000", "IEC60870 t:2404",
	"RTSP t:554 u:554", "RTMP t:1935", "VNC t:5900,5901", "SOCKS t:1080 u:1080",
	"HTTP_Proxy t:8080,3128", "DoH_DoT t:853 u:784,853", "LLMNR t:5355 u:5355", "COAP u:5683,5684",
	"NAT-PMP u:5351", "TFTP u:69", "Git t:9418", "UBNTAC2 u:10001", "collectd u:25826",
	"IAX u:4569", "MGCP u:2427,2727", "H323 t:1719,1720 u:1719,1720", "PPTP t:1723", "Teredo u:3544", "CAPWAP u:5246,5247", "HSRP u:1985,2029", "VXLAN u:4789",
	"Zabbix t:10050,10051", "Oracle t:1521", "AFP t:548",
	"Citrix t:1494,2598", "TeamViewer t:5938 u:5938", "Dropbox u:17500", "NetFlow u:2055",
	"sFlow u:6343", "Diameter t:3868", "DCERPC t:135",
	"Munin t:4949", "Nats t:4222", "CPHA u:8116", "Cassandra t:9042", "EthernetIP t:44818",
	"BACnet u:47808", "S7Comm t:102", "WSD u:3702", "OPC-UA t:4840", "GTP_U u:2152",
	"GTP_C u:2123", "PFCP u:8805", "Whois-DAS t:43", "Elasticsearch t:9200", "RSYNC t:873",
	"Ceph t:6789,3300", "ZeroMQ", "Spotify u:57621", "Gnutella", "IRC t:194,6667",
	"Usenet t:119", "CoAP", "RTCP", "RX u:7000-7009", "LISP u:4341,4342", "HL7 t:2575",
	"IEC62056 t:4059 u:4059", "MpegDash", "Bitcoin t:8333", "Ethereum t:30303",
	"Mining", "KNXnet_IP u:3671", "IMO", "Nintendo", "Steam u:27015,27016,27017",
	"Xbox u:3074,3075,3076", "Starcraft t:1119 u:1119", "SNMP", "NetBIOS", "Kerberos", "OpenFlow t:6653",
	"CiscoVPN t:10000 u:10000",
	"Lustre t:988", "ClickHouse t:9000", "BeckhoffADS t:48898", "ISO9506-1-MMS", "FastCGI", "Tailscale u:41641", "Alicloud"}

type portKey struct {
	l4   uint8
	port uint16
}

// eachDefaultPort calls fn for every (protocol, transport, port) in
// defaultPorts, in list order. A wrong name or port is a defect of the
// table, caught by any test.
func eachDefaultPort(fn func(id ProtoID, k portKey)) {
	for _, line := range defaultPorts {
		fields := strings.Fields(line)
		id, ok := ProtoByName(fields[0])
		if !ok {
			panic("dpi: defaultPorts names unknown protocol " + fields[0])
		}
		for _, f := range fields[1:] {
			l4 := uint8(IPProtoTCP)
			if f[0] == 'u' {
				l4 = IPProtoUDP
			}
			for _, pr := range strings.Split(f[2:], ",") {
				lo, hi, err := parsePortRange(pr)
				if err != nil {
					panic("dpi: defaultPorts: " + line)
				}
				for p := lo; ; p++ {
					fn(id, portKey{l4, p})
					if p == hi {
						break
					}
				}
			}
		}
	}
}

// guessPorts maps (l4, port) to the protocol whose default port it is.
// The first protocol listed for a port wins.
var guessPorts = func() map[portKey]ProtoID {
	m := make(map[portKey]ProtoID)
	eachDefaultPort(func(id ProtoID, k portKey) {
		if _, dup := m[k]; !dup {
			m[k] = id
		}
	})
	return m
}()

// protoPorts lists each protocol's default ports (the inverse of
// guessPorts, with every protocol that claims a port).
var protoPorts = func() map[ProtoID][]portKey {
	m := make(map[ProtoID][]portKey)
	eachDefaultPort(func(id ProtoID, k portKey) { m[id] = append(m[id], k) })
	return m
}()

// onDefaultPort reports whether the protocol has default ports for l4 and,
// if so, whether either port is one of them.
func onDefaultPort(id ProtoID, l4 uint8, a, b uint16) (hasDefaults, on bool) {
	for _, k := range protoPorts[id] {
		if k.l4 != l4 {
			continue
		}
		hasDefaults = true
		if k.port == a || k.port == b {
			return true, true
		}
	}
	return hasDefaults, false
}

// PortProto is the protocol whose default port p is, for TCP or UDP.
func PortProto(l4 uint8, p uint16) ProtoID {
	return guessPorts[portKey{l4, p}]
}

// ipProtoApp classifies flows of transports that carry no ports.
func ipProtoApp(proto uint8) ProtoID {
	switch proto {
	case IPProtoICMP:
		return ProtoICMP
	case IPProtoICMPv6:
		return ProtoICMPV6
	case IPProtoIGMP:
		return ProtoIGMP
	case IPProtoGRE:
		return ProtoGRE
	case IPProtoESP, IPProtoAH:
		return ProtoIPSec
	case 8:
		return ProtoEGP
	case 89:
		return ProtoOSPF
	case IPProtoIPIP, IPProtoIPv6:
		return ProtoIPInIP
	case 112:
		return ProtoVRRP
	case 103:
		return ProtoIPPIM
	case 113: // PGM, reliable multicast (RFC 3208)
		return ProtoPGM
	case IPProtoSCTP:
		return ProtoSCTP
	}
	return 0
}
