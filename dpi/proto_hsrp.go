package dpi

import "net/netip"

// Hot Standby Router Protocol. Version 1 (RFC 2281 §5) goes to 224.0.0.2
// port 1985 with version 0, an op code and the virtual IP at the end;
// version 2 sends type-length-value records to 224.0.0.102 (IPv4) or
// ff02::66 port 2029 (IPv6). The multicast group and port identify it.
func dissectHSRP(c *Ctx) Status {
	b := c.Payload
	p := c.Pkt
	if len(b) < 6 {
		return Exclude
	}
	switch {
	case p.Dst == hsrpV1Group && p.DstPort == 1985:
		// version 0, op code hello/coup/resign, state in 0..16
		if len(b) >= 20 && b[0] == 0 && b[1] <= 2 && b[2] <= 16 {
			return lanDone(c, ProtoHSRP)
		}
	case (p.Dst == hsrpV2Group && p.DstPort == 1985) || (p.Dst == hsrpV6Group && p.DstPort == 2029):
		// a TLV whose length fits the packet: group state (1), interface
		// state (2), text authentication (3), MD5 authentication (4)
		if b[0] >= 1 && b[0] <= 4 && int(b[1])+2 <= len(b) {
			return lanDone(c, ProtoHSRP)
		}
	}
	return Exclude
}

var (
	hsrpV1Group = netip.AddrFrom4([4]byte{224, 0, 0, 2})
	hsrpV2Group = netip.AddrFrom4([4]byte{224, 0, 0, 102})
	hsrpV6Group = netip.MustParseAddr("ff02::66")
)
