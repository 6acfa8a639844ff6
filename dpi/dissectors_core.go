package dpi

var coreDissectors = []dissector{
	{name: "TLS", l4: onTCP, tcpPorts: []uint16{443}, fn: dissectTLS},
	{name: "QUIC", l4: onUDP, udpPorts: []uint16{443}, fn: dissectQUIC},
	{name: "DTLS", l4: onUDP, udpPorts: []uint16{443, 4433, 5061, 5349}, fn: dissectDTLS},
	{name: "HTTP", l4: onTCP, tcpPorts: []uint16{80, 8080}, fn: dissectHTTP},
	{name: "DNS", l4: onTCP | onUDP, tcpPorts: []uint16{53}, udpPorts: []uint16{53, 5353, 5355}, fn: dissectDNS},
	{name: "SSH", l4: onTCP, tcpPorts: []uint16{22}, fn: dissectSSH},
}
