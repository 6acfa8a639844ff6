package dpi

import (
	"bytes"
	"encoding/binary"
)

// Game protocols without public specifications, recognised by the fixed
// bytes their clients send (the signatures nDPI uses, checked against
// captures of the games).

// gameState is the per-flow state of the multi-packet game signatures.
type gameState struct {
	lolStage, starcraftStage uint8
	raknetCustom             bool
}

// dissectGenshin: Genshin Impact's UDP handshake (a 20-byte hello:
// 0x000000FF, zero, conversation, the constant 1234567890, 0xFFFFFFFF) and
// its TCP login framing (0x01000000, a one-byte length, type 7 or 8).
func dissectGenshin(c *Ctx) Status {
	b := c.Payload
	if c.L4() == IPProtoUDP {
		if pktCount(c) == 1 && len(b) >= 20 && binary.BigEndian.Uint32(b) == 0xFF &&
			binary.BigEndian.Uint32(b[4:]) == 0 && binary.BigEndian.Uint32(b[12:]) == 1234567890 &&
			binary.BigEndian.Uint32(b[16:]) == 0xFFFFFFFF {
			c.Set(ProtoGenshinImpact, 0)
			return Done
		}
		return Exclude
	}
	if len(b) >= 20 && binary.BigEndian.Uint32(b) == 0x01000000 && int(b[4]) == len(b) &&
		(b[5] == 7 || b[5] == 8) && binary.BigEndian.Uint32(b[6:]) == 0 {
		c.Set(ProtoGenshinImpact, 0)
		return Done
	}
	return Exclude
}

// dissectLoLWildRift: League of Legends: Wild Rift's UDP hello (22 bytes,
// 0x0102C841 … "A0B1"), or its 69-byte request and 359-byte answer.
func dissectLoLWildRift(c *Ctx) Status {
	b := c.Payload
	st := &c.s.realtime.game
	switch {
	case len(b) == 22 && binary.BigEndian.Uint32(b) == 0x0102C841 && binary.BigEndian.Uint32(b[18:]) == 0x41304231:
	case len(b) == 69 && binary.BigEndian.Uint32(b) == 0x04000000:
		st.lolStage = 1
		return Continue
	case st.lolStage == 1 && len(b) == 359 && binary.BigEndian.Uint32(b) == 0x10000000:
	default:
		return Exclude
	}
	c.Set(ProtoLoLWildRift, 0)
	return Done
}

// dissectRiotGames: Riot's UDP game traffic ends with 0xAAAAAAAA
// 0xBBBBBBBB; a 53-byte ping ends with a fixed tag.
func dissectRiotGames(c *Ctx) Status {
	b := c.Payload
	n := len(b)
	if n > 8 && binary.BigEndian.Uint32(b[n-8:]) == 0xaaaaaaaa && binary.BigEndian.Uint32(b[n-4:]) == 0xbbbbbbbb ||
		n == 53 && binary.BigEndian.Uint32(b[n-4:]) == 0xea23460c && binary.BigEndian.Uint32(b[n-8:]) == 0x3cb11f2d {
		c.Set(ProtoRiotGames, 0)
		return Done
	}
	return Exclude
}

// dissectHotS: Heroes of the Storm's UDP game traffic on Blizzard's ports:
// 0x4000 at offset 14 and a known packet type (or an all-zero prefix).
func dissectHotS(c *Ctx) Status {
	if !blizzardPort(c, 1119, 1120, 3724, 6113) {
		return Exclude
	}
	b := c.Payload
	if len(b) >= 20 && len(b) <= 122 && b[14] == 0x40 && b[15] == 0 &&
		((b[2] == 0x03 && b[3] == 0) || (b[2] == 0x34 && b[3] == 0) || allZero(b[:14])) {
		c.Set(ProtoHeroesOfTheStorm, 0)
		return Done
	}
	return Exclude
}

func blizzardPort(c *Ctx, ports ...uint16) bool {
	sp, cp := c.ServerPort(), c.ClientPort()
	for _, p := range ports {
		if sp == p || cp == p {
			return true
		}
	}
	return false
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// starcraftLogon are Battle.net's StarCraft II logon portals.
var starcraftLogon = [...][4]byte{
	{213, 248, 127, 130}, // EU
	{12, 129, 206, 130},  // US
	{121, 254, 200, 130}, // KR
	{202, 9, 66, 76},     // SG
	{12, 129, 236, 254},  // beta
}

// dissectStarcraft: StarCraft II's login to a Battle.net portal on TCP
// 1119, or its UDP game data on port 1119, recognised by the sizes of
// the first packets (20, 20, 75|85, 20, 548, 548, 548, 484).
func dissectStarcraft(c *Ctx) Status {
	b := c.Payload
	if c.L4() == IPProtoTCP {
		srv := c.Flow.Server().Addr()
		if !srv.Is4() || c.ServerPort() != 1119 {
			return Exclude
		}
		a := srv.As4()
		logon := false
		for _, l := range starcraftLogon {
			logon = logon || a == l
		}
		if logon && c.Dir == ToServer && len(b) >= 10 && (b[0] == 0x4a || b[0] == 0x49) &&
			bytes.Equal(b[1:10], []byte{0, 0, 0x0a, 0x66, 0x02, 0x0a, 0xed, 0x2d, 0x66}) {
			c.Set(ProtoStarcraft, 0)
			return Done
		}
		return Exclude
	}
	if c.ServerPort() != 1119 && c.ClientPort() != 1119 {
		return Exclude
	}
	st := &c.s.realtime.game
	n := len(b)
	switch st.starcraftStage {
	case 0, 1, 3:
		if n == 20 {
			st.starcraftStage++
		}
	case 2:
		if n == 75 || n == 85 {
			st.starcraftStage++
		}
	case 4, 5, 6:
		if n == 548 {
			st.starcraftStage++
		}
	case 7:
		if n == 484 {
			c.Set(ProtoStarcraft, 0)
			return Done
		}
	}
	return Continue
}

// dissectWoW: World of Warcraft's TCP connection banner ("WORLD OF
// WARCRAFT CONNECTION" after a 2-byte length), its login on port 3724
// ("WoW" in the logon challenge) and the realm server's first reply.
func dissectWoW(c *Ctx) Status {
	b := c.Payload
	n := len(b)
	switch {
	case n == 50 && bytes.HasPrefix(b[2:], []byte("WORLD OF WARCRAFT CONNECTION")):
	case c.Pkt.DstPort == 3724 && n > 40 && n < 70 && (bytes.Equal(b[4:7], []byte("WoW")) || bytes.Equal(b[5:8], []byte("WoW"))):
	case c.Pkt.SrcPort == 3724 && n == 8 && binary.BigEndian.Uint32(b) == 0x0006ec01:
	case c.Pkt.DstPort == 1119 && n >= 77 && binary.BigEndian.Uint32(b) == 0x40000aed && binary.BigEndian.Uint32(b[4:]) == 0xea070aed:
	default:
		if pktCount(c) > 3 {
			return Exclude
		}
		return Continue
	}
	c.Set(ProtoWorldOfWarcraft, 0)
	return Done
}

// dissectTESO: The Elder Scrolls Online's TCP login: a 4-byte big-endian
// length of the rest, then a record naming the "eso.live" realm or
// carrying a zlib stream (8B 78 9C 01).
func dissectTESO(c *Ctx) Status {
	b := c.Payload
	if len(b) < 600 || binary.BigEndian.Uint32(b) != uint32(len(b)-4) {
		return Exclude
	}
	if bytes.Contains(b, []byte("eso.live")) || bytes.Contains(b, []byte{0x8B, 0x78, 0x9C, 0x01}) {
		c.Set(ProtoTESOnline, 0)
		return Done
	}
	return Exclude
}

// dissectPathOfExile: Path of Exile's first TCP message: fixed fields
// around the character name (4-23 characters) and a fixed trailer.
func dissectPathOfExile(c *Ctx) Status {
	b := c.Payload
	n := len(b)
	if n > 25 && n < 50 && b[0] == 0 && b[6] == 0 && binary.BigEndian.Uint16(b[1:]) == 0x0300 &&
		binary.BigEndian.Uint16(b[7:]) == 0x0200 && binary.BigEndian.Uint32(b[n-8:]) == 0 &&
		binary.BigEndian.Uint32(b[n-4:]) == 0x40000001 {
		c.Set(ProtoPathofExile, 0)
		return Done
	}
	return Exclude
}

// RakNet (wiki.vg "Raknet Protocol"), the UDP transport of Minecraft
// Bedrock, Roblox and others. Offline messages carry a 16-byte magic; the
// signature is the message layout for the message id in the first byte,
// with more packets required for the weaker ones. Roblox's variant pads
// its first datagram to the MTU with the magic near the start.
var raknetMagic = []byte{0x00, 0xFF, 0xFF, 0x00, 0xFE, 0xFE, 0xFE, 0xFE, 0xFD, 0xFD, 0xFD, 0xFD, 0x12, 0x34, 0x56, 0x78}

func dissectRakNet(c *Ctx) Status {
	b := c.Payload
	n := len(b)
	st := &c.s.realtime.game
	if pktCount(c) == 1 && n >= 1200 {
		for _, off := range [...]int{1, 9, 17, 32} {
			if bytes.HasPrefix(b[off:], raknetMagic) {
				st.raknetCustom = true
			}
		}
	}
	no := func() Status {
		if st.raknetCustom {
			c.Set(ProtoRakNet, 0)
			return Done
		}
		return Exclude
	}
	if n < 7 {
		return no()
	}
	required := 3
	switch op := b[0]; op {
	case 0x00: // connected ping
		if n != 8 {
			return no()
		}
		required = 6
	case 0x01, 0x02: // unconnected ping
		if n != 32 {
			return no()
		}
		required = 6
	case 0x03: // connected pong
		if n != 16 {
			return no()
		}
		required = 6
	case 0x05: // open connection request 1: magic, protocol version, MTU padding
		if n < 18 || b[17] > 10 {
			return no()
		}
		required = 6
	case 0x06: // open connection reply 1: magic, server guid, security, MTU
		if n != 28 || b[25] > 1 || binary.BigEndian.Uint16(b[26:]) > 1500 {
			return no()
		}
		required = 4
	case 0x07: // open connection request 2: magic, server address, MTU, guid
		a := raknetAddrLen(b, 17)
		if !(a == 16 && n == 46 || a == 4 && n == 34) || binary.BigEndian.Uint16(b[20+a:]) > 1500 {
			return no()
		}
	case 0x08: // open connection reply 2: magic, guid, client address, MTU, security
		a := raknetAddrLen(b, 25)
		if !(a == 16 && n == 47 || a == 4 && n == 35) || binary.BigEndian.Uint16(b[28+a:]) > 1500 {
			return no()
		}
	case 0x10, 0x13: // connection request accepted / new incoming connection
		off := 4 + raknetAddrLen(b, 0)
		if op == 0x10 {
			off += 2 // system index
		}
		for range 10 {
			off += 3 + raknetAddrLen(b, off)
		}
		if off+16 != n {
			return no()
		}
	case 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d:
		if raknetFrameSet(b) {
			c.Set(ProtoRakNet, 0)
			return Done
		}
		return no()
	case 0x09: // connection request
		if n != 16 {
			return no()
		}
		required = 6
	case 0x15: // disconnect
		required = 8
	case 0x19: // incompatible protocol version
		if n != 25 || b[17] > 10 {
			return no()
		}
	case 0x1c: // unconnected pong: magic then a length-prefixed MOTD
		if n < 35 {
			return no()
		}
		if m := int(binary.BigEndian.Uint16(b[33:])); m == 0 || m+35 != n {
			return no()
		}
	case 0xa0, 0xc0: // NACK / ACK: a count of ranges or single sequence numbers
		if raknetAcks(b) {
			c.Set(ProtoRakNet, 0)
			return Done
		}
		return no()
	case 0xfe: // game packet
		required = 8
	default:
		return no()
	}
	if pktCount(c) < required {
		return Continue
	}
	c.Set(ProtoRakNet, 0)
	return Done
}

// raknetAddrLen is the size of the address at off (4 for IPv4, 16 for
// IPv6) or 0 when there is none.
func raknetAddrLen(b []byte, off int) int {
	if off+1 >= len(b) {
		return 0
	}
	switch b[off] {
	case 4:
		return 4
	case 6:
		return 16
	}
	return 0
}

// raknetFrameSet walks a frame set datagram: a 3-byte sequence number,
// then frames (flags, bit length, reliability fields, fragment header,
// body) that must end exactly at the end of the datagram.
func raknetFrameSet(b []byte) bool {
	off := 4
	for {
		if off+3 > len(b) {
			return false
		}
		flags := b[off]
		if flags&0x0F != 0 {
			return false
		}
		size := int(binary.BigEndian.Uint16(b[off+1:])) / 8
		if size == 0 {
			return false
		}
		switch rel := flags >> 5; {
		case rel >= 2 && rel <= 4:
			off += 3 // reliable: message index
			if rel == 3 {
				off += 4 // reliable ordered: order index and channel
			} else if rel == 4 {
				off += 3 // reliable sequenced: sequence index
			}
		case rel == 1:
			off += 3
		case rel == 7:
			off += 4
		}
		if flags&0x10 != 0 {
			off += 10 // fragment count, id, index
		}
		off += size + 3
		if off+3 > len(b) {
			return off == len(b)
		}
	}
}

// raknetAcks walks an ACK/NACK datagram: a record count, then records that
// are a range (0, two 3-byte numbers) or a single number (1, one).
func raknetAcks(b []byte) bool {
	if len(b) < 3 {
		return false
	}
	count := int(binary.BigEndian.Uint16(b[1:]))
	off, i := 3, 0
	for {
		if off >= len(b) {
			return false
		}
		switch b[off] {
		case 0:
			off += 7
		case 1:
			off += 4
		default:
			return false
		}
		i++
		if i >= count || off+4 > len(b) {
			break
		}
	}
	return i == count && off == len(b)
}
