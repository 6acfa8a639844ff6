package dpi

// realtimeDissectors are the detectors of this family, in priority order:
// exact signatures first, STUN next, and the RTP heuristic, which needs
// several packets, last.
var realtimeDissectors = []dissector{
	{name: "OICQ", l4: onUDP, udpPorts: []uint16{8000}, fn: dissectOICQ},
	{name: "SD-RTN", l4: onUDP, fn: dissectSDRTN},
	{name: "Source_Engine", l4: onUDP, udpPorts: []uint16{27015}, fn: dissectSourceEngine},
	{name: "KCP", l4: onUDP, fn: dissectKCP},
	{name: "RakNet", l4: onUDP, udpPorts: []uint16{19132}, fn: dissectRakNet},
	{name: "GenshinImpact", l4: onTCP | onUDP, udpPorts: []uint16{22102}, fn: dissectGenshin},
	{name: "LoLWildRift", l4: onUDP, fn: dissectLoLWildRift},
	{name: "RiotGames", l4: onUDP, fn: dissectRiotGames},
	{name: "Heroes_of_the_Storm", l4: onUDP, udpPorts: []uint16{1119, 3724}, fn: dissectHotS},
	{name: "Starcraft", l4: onTCP | onUDP, tcpPorts: []uint16{1119}, udpPorts: []uint16{1119}, fn: dissectStarcraft},
	{name: "WorldOfWarcraft", l4: onTCP, tcpPorts: []uint16{3724}, fn: dissectWoW},
	{name: "TES_Online", l4: onTCP, fn: dissectTESO},
	{name: "PathofExile", l4: onTCP, fn: dissectPathOfExile},
	{name: "Steam", l4: onUDP, udpPorts: []uint16{27015, 27016, 27017}, fn: dissectSteam},
	{name: "Xbox", l4: onUDP, udpPorts: []uint16{3074}, fn: dissectXbox},
	{name: "Nintendo", l4: onUDP, fn: dissectNintendo},
	{name: "MPEG_TS", l4: onUDP, fn: dissectMPEGTS},
	{name: "UFTP", l4: onUDP, udpPorts: []uint16{1044}, fn: dissectUFTP},
	{name: "WhatsApp", l4: onTCP, tcpPorts: []uint16{5222}, fn: dissectWhatsApp},
	{name: "Threema", l4: onTCP, tcpPorts: []uint16{5222}, fn: dissectThreema},
	{name: "Telegram", l4: onTCP | onUDP, fn: dissectTelegram},
	{name: "TruPhone", l4: onTCP, fn: dissectTruPhone},
	{name: "Viber", l4: onTCP | onUDP, tcpPorts: []uint16{4244, 5242, 5243, 7985}, udpPorts: []uint16{7985, 7987}, fn: dissectViber},
	{name: "Discord", l4: onUDP, fn: dissectDiscord},
	{name: "Zoom", l4: onUDP, udpPorts: []uint16{8801, 8802, 8803, 8804, 8805, 8806, 8807, 8808, 8809, 8810}, fn: dissectZoom},
	{name: "IMO", l4: onUDP, fn: dissectIMO},
	{name: "Mumble", l4: onUDP, udpPorts: []uint16{64738}, fn: dissectMumble},
	{name: "TeamSpeak", l4: onTCP | onUDP, udpPorts: []uint16{9987}, fn: dissectTeamSpeak},
	{name: "Spotify", l4: onTCP | onUDP, udpPorts: []uint16{57621}, fn: dissectSpotify},
	{name: "SIP", l4: onTCP | onUDP, tcpPorts: []uint16{5060, 5061}, udpPorts: []uint16{5060, 5061}, fn: dissectSIP},
	{name: "MGCP", l4: onUDP, udpPorts: []uint16{2427, 2727}, fn: dissectMGCP},
	{name: "H323", l4: onTCP | onUDP, tcpPorts: []uint16{1720}, udpPorts: []uint16{1719}, fn: dissectH323},
	{name: "IAX", l4: onUDP, udpPorts: []uint16{4569}, fn: dissectIAX},
	{name: "BFCP", l4: onTCP | onUDP, fn: dissectBFCP},
	{name: "CiscoSkinny", l4: onTCP, tcpPorts: []uint16{2000}, fn: dissectSkinny},
	{name: "STUN", l4: onTCP | onUDP, tcpPorts: []uint16{3478, 5349}, udpPorts: []uint16{3478, 5349, 19302}, fn: dissectSTUN},
	{name: "RTP", l4: onTCP | onUDP, fn: dissectRTP},
}

// realtimeState is the per-flow state of this family's dissectors. Each
// field is a few bytes: the flow carries it only while it is inspected.
type realtimeState struct {
	stun stunState
	rtp  rtpState
	game gameState
	app  appState
	bfcp bfcpState
}

// realtimePorts are nDPI's default ports of this family's protocols (see
// ports.go; protocols already in corePorts are not repeated).
var realtimePorts = []string{
	"CiscoSkinny t:2000", "OICQ u:8000", "GenshinImpact u:22102",
	"Viber t:4244,5242,5243,7985 u:4244,5242,5243,7985,7987",
}

// realtimeShared is engine-wide state of this family. One per engine.
type realtimeShared struct {
	// stunPeers: endpoints seen in calls of a known application (STUN
	// sub-classification), so their later STUN/media flows are named.
	stunPeers stunPeerCache
}

// pktCount is the number of packets with payload seen in the flow so far,
// both directions, including the current one (nDPI's packet counter).
func pktCount(c *Ctx) int { return c.Payloads(ToServer) + c.Payloads(ToClient) }
