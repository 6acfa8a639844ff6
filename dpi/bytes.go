package dpi

import "encoding/binary"

// Byte helpers the dissectors share. Callers bounds-check first.

func be16(b []byte, off int) uint16 { return binary.BigEndian.Uint16(b[off:]) }
func be24(b []byte, off int) uint32 {
	return uint32(b[off])<<16 | uint32(b[off+1])<<8 | uint32(b[off+2])
}
func be32(b []byte, off int) uint32 { return binary.BigEndian.Uint32(b[off:]) }
func le16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

// hasPrefix reports whether b starts with s, without converting.
func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}
