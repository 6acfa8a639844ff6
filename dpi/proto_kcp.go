package dpi

import "encoding/binary"

// KCP (github.com/skywind3000/kcp, "protocol.md") is a reliable transport
// over UDP. A datagram holds one or more 24-byte segment headers
// (conversation, command, fragment, window, timestamp, serial, una,
// little-endian data length) each followed by its data. Commands are
// PUSH 81, ACK 82, window probe 83 and window size 84.
func dissectKCP(c *Ctx) Status {
	if !kcpSegments(c.Payload) {
		return Exclude
	}
	c.Set(ProtoKCP, 0)
	return Done
}

// kcpSegments reports whether b is exactly a chain of KCP segments.
func kcpSegments(b []byte) bool {
	if len(b) < 24 {
		return false
	}
	for off := 0; off < len(b); {
		if len(b)-off < 24 || b[off+4] < 81 || b[off+4] > 84 {
			return false
		}
		n := uint64(binary.LittleEndian.Uint32(b[off+20:]))
		if n > uint64(len(b)-off-24) {
			return false
		}
		off += 24 + int(n)
	}
	return true
}
