package dpi

import (
	"bytes"
	"encoding/binary"
)

// Game platforms.

// dissectSteam: Steam's UDP client traffic: "VS01" datagrams, and
// request/answer pairs (0x31FF302E ↔ 0xFFFFFFFF, a 25-byte 0xFFFFFFFF
// query ↔ 0xFFFFFFFF, 0x39180000 ↔ 0x3A180000) seen in opposite
// directions within the first packets.
func dissectSteam(c *Ctx) Status {
	if pktCount(c) > 5 {
		return Exclude
	}
	b := c.Payload
	if bytes.HasPrefix(b, []byte("VS01")) {
		c.Set(ProtoSteam, 0)
		return Done
	}
	st := &c.s.realtime.app.steamStage
	dir := uint8(c.Dir) + 1
	ff := bytes.HasPrefix(b, []byte{0xff, 0xff, 0xff, 0xff})
	v1 := bytes.HasPrefix(b, []byte{0x31, 0xff, 0x30, 0x2e})
	q3 := len(b) == 4 && bytes.Equal(b, []byte{0x39, 0x18, 0, 0})
	r3 := len(b) == 8 && bytes.HasPrefix(b, []byte{0x3a, 0x18, 0, 0})
	found := false
	// Each pair: the stage remembers the request and its direction (1, 2)
	// and which request it was (+2 for the second kind).
	switch s := st[0]; {
	case s == 0 && v1:
		st[0] = dir
	case s == 0 && ff:
		st[0] = dir + 2
	case s == 1 || s == 2:
		if s != dir {
			found = found || ff
			st[0] = 0
		}
	case s == 3 || s == 4:
		if s-2 != dir {
			found = found || v1
			st[0] = 0
		}
	}
	switch s := st[1]; {
	case s == 0 && len(b) == 25 && ff:
		st[1] = dir
	case s != 0 && s != dir:
		found = found || ff
		st[1] = 0
	}
	switch s := st[2]; {
	case s == 0 && q3:
		st[2] = dir
	case s != 0 && s != dir:
		found = found || r3
		st[2] = 0
	}
	if found {
		c.Set(ProtoSteam, 0)
		return Done
	}
	return Continue
}

// dissectXbox: Xbox Live's UDP traffic: a system-link header (zero word,
// 0x58 marker) with known message types, or two of its fixed messages on
// port 3074.
func dissectXbox(c *Ctx) Status {
	b := c.Payload
	n := len(b)
	if n > 12 && binary.BigEndian.Uint32(b) == 0 && b[5] == 0x58 && b[7] == 0 && b[8] == 0 && b[9] == 0 {
		switch [2]byte{b[4], b[6]} {
		case [2]byte{0x0c, 0x76}, [2]byte{0x02, 0x18}, [2]byte{0x0b, 0x80}, [2]byte{0x03, 0x40}, [2]byte{0x06, 0x4e}:
			c.Set(ProtoXbox, 0)
			return Done
		}
	}
	if c.Pkt.SrcPort == 3074 || c.Pkt.DstPort == 3074 {
		if (n == 24 && b[0] == 0) ||
			(n == 42 && b[0] == 0x4f && b[2] == 0x0a) ||
			(n == 80 && binary.BigEndian.Uint16(b) == 0x50bc && b[2] == 0x45) ||
			(n == 40 && binary.BigEndian.Uint32(b) == 0xcf5f3202) ||
			(n == 38 && binary.BigEndian.Uint32(b) == 0xc1457f03) ||
			(n == 28 && binary.BigEndian.Uint32(b) == 0x015f2c00) {
			st := &c.s.realtime.app
			if st.xboxStage == 1 {
				c.Set(ProtoXbox, 0)
				return Done
			}
			st.xboxStage++
			return Continue
		}
	}
	return Exclude
}

// dissectNintendo: Nintendo Switch online play: UDP datagrams starting
// with 32 AB 98 64 02.
func dissectNintendo(c *Ctx) Status {
	b := c.Payload
	if len(b) > 48 && bytes.HasPrefix(b, []byte{0x32, 0xab, 0x98, 0x64, 0x02}) {
		c.Set(ProtoNintendo, 0)
		return Done
	}
	return Exclude
}
