package dpi

// p2pDissectors are the detectors of this family, in priority order. The
// ones that decide from a long magic or exact lengths come first; the ones
// that need several packets to be sure come last, so that a flow another
// dissector can name on its first packet is named by it.
var p2pDissectors = []dissector{
	{name: "BitTorrent", l4: onTCP | onUDP, tcpPorts: []uint16{6881, 51413}, udpPorts: []uint16{6771, 6881, 51413}, fn: dissectBitTorrent},
	{name: "Gnutella", l4: onTCP | onUDP, tcpPorts: []uint16{6346}, udpPorts: []uint16{6346}, fn: dissectGnutella},
	{name: "eDonkey", l4: onTCP, tcpPorts: []uint16{4661, 4662}, fn: dissectEDonkey},
	{name: "Tailscale", l4: onUDP, udpPorts: []uint16{41641}, fn: dissectTailscale},
	{name: "WireGuard", l4: onUDP, udpPorts: []uint16{51820}, fn: dissectWireGuard},
	{name: "IPSec", l4: onUDP, udpPorts: []uint16{500, 4500}, fn: dissectIPSec},
	{name: "PPTP", l4: onTCP, tcpPorts: []uint16{1723}, fn: dissectPPTP},
	{name: "OpenVPN", l4: onTCP | onUDP, tcpPorts: []uint16{1194}, udpPorts: []uint16{1194}, fn: dissectOpenVPN},
	{name: "SOCKS", l4: onTCP, tcpPorts: []uint16{1080}, fn: dissectSOCKS},
	{name: "DNScrypt", l4: onTCP | onUDP, tcpPorts: []uint16{443}, udpPorts: []uint16{443, 5353}, fn: dissectDNSCrypt},
	{name: "UltraSurf", l4: onTCP, fn: dissectUltraSurf},
	{name: "CiscoVPN", l4: onUDP, udpPorts: []uint16{10000}, fn: dissectCiscoVPN},
}

// p2pState is the per-flow state of this family's dissectors. Several of
// them may inspect the same flow until they rule themselves out, so each
// has its own few bytes; the struct stays small (a test bounds its size).
type p2pState struct {
	bt       btState
	edonkey  edonkeyState
	wg       wgState
	ipsec    ipsecState
	openvpn  openvpnState
	socks    socksState
	dnscrypt uint8 // 1: a query-shaped packet was seen
}

// p2pPorts are nDPI's default ports of this family's protocols (see
// ports.go). They only guess a flow DPI gave up on, so they list exactly
// nDPI's defaults: a port nDPI does not claim would name flows it leaves
// Unknown. Most are already in the core list; repeating them is harmless.
var p2pPorts = []string{
	"BitTorrent t:51413,53646 u:6771,51413",
	"OpenVPN t:1194 u:1194",
	"IPSec t:500 u:500,4500",
	"WireGuard u:51820",
	"Tailscale u:41641",
	"PPTP t:1723",
	"SOCKS t:1080 u:1080",
	"CiscoVPN t:10000 u:10000",
	"DoH_DoT t:853",
}

// p2pShared is engine-wide state of this family (caches that outlive a
// flow, such as peers already seen speaking a protocol). One per engine.
type p2pShared struct {
	// btPeers remembers endpoints and host pairs seen speaking BitTorrent,
	// so that their later encrypted (MSE/PE) flows are named too.
	btPeers peerCache
}

// flowEnds returns the raw client and server addresses and ports of f
// without building netip values.
func flowEnds(f *Flow) (cli, srv *[16]byte, cport, sport uint16) {
	if f.clientLo {
		return &f.key.loAddr, &f.key.hiAddr, f.key.loPort, f.key.hiPort
	}
	return &f.key.hiAddr, &f.key.loAddr, f.key.hiPort, f.key.loPort
}

// vpnAppByAddr is the VPN service the catalog places the server (or the
// client) address in, if any: OpenVPN to a NordVPN address is
// OpenVPN.NordVPN, as nDPI's subclassification by IP names it.
func vpnAppByAddr(c *Ctx) ProtoID {
	cat := c.Catalog()
	for _, ap := range [2]bool{true, false} {
		a := c.Flow.Client().Addr()
		if ap {
			a = c.Flow.Server().Addr()
		}
		if en, ok := cat.Addr(a); ok && en.App != 0 {
			if en.Category == CategoryVPN || cat.ProtoCategory(en.App) == CategoryVPN {
				return en.App
			}
		}
	}
	return 0
}
