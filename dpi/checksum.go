package dpi

import (
	"encoding/binary"
	"math/bits"
)

// ChecksumState says what is known of a packet's transport checksum
// before the engine looks at it.
type ChecksumState uint8

const (
	// ChecksumUnchecked: nothing is known (captures). The engine
	// verifies TCP checksums, and believes a bad one once the packet's
	// direction has shown a good one: a capture taken on a host that
	// offloads checksums, or an anonymised one, has bad checksums in a
	// whole direction, which its receiver never saw.
	ChecksumUnchecked ChecksumState = iota
	// ChecksumTrusted: the kernel or the NIC verified it, or it is not
	// computed yet because the sender offloads it (NFQA_SKB_CSUMNOTREADY,
	// CHECKSUM_PARTIAL on veth/virtio); the receiver will not drop the
	// packet for its checksum.
	ChecksumTrusted
	// ChecksumUnverified: the kernel says nobody verified it
	// (NFQA_SKB_CSUM_NOTVERIFIED); the engine verifies it and does not
	// inspect a TCP segment whose checksum is wrong.
	ChecksumUnverified
)

// tcpChecksumOK verifies the TCP checksum of p over its IPv4 or IPv6
// pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1). Packets whose segment was
// not captured whole (truncated, or the first fragment of a datagram) are
// given the benefit of the doubt: their checksum cannot be computed.
func tcpChecksumOK(p *Packet) bool {
	seg := p.seg
	if len(seg) < 20 || p.Flags&(FlagTruncated|FlagFragment) != 0 {
		return true
	}
	sum := addrSum(p)
	sum += uint64(IPProtoTCP) + uint64(len(seg))
	sum += sum16(seg)
	return fold16(sum) == 0xffff
}

// tcpChecksumPartial reports whether p's checksum field holds only the
// pseudo-header sum: what a sender that offloads the checksum to its NIC
// leaves there (Linux's CHECKSUM_PARTIAL), so a capture taken on that
// host shows it. The receiver got the checksum the NIC computed.
func tcpChecksumPartial(p *Packet) bool {
	seg := p.seg
	if len(seg) < 20 {
		return false
	}
	sum := addrSum(p)
	sum += uint64(IPProtoTCP)
	field := uint64(binary.BigEndian.Uint16(seg[16:]))
	// With segmentation offload (TSO) the length is left out: the NIC
	// adds each segment's.
	for _, n := range [2]uint64{uint64(len(seg)), 0} {
		v := fold16(sum + n)
		if field == v || field == ^v&0xffff {
			return true
		}
	}
	return false
}

// addrSum is the unfolded one's-complement sum of p's addresses, the part
// of the TCP pseudo-header both checks above share.
func addrSum(p *Packet) uint64 {
	if p.IPVersion == 4 {
		s, d := p.Src.As4(), p.Dst.As4()
		return uint64(binary.BigEndian.Uint32(s[:])) + uint64(binary.BigEndian.Uint32(d[:]))
	}
	s, d := p.Src.As16(), p.Dst.As16()
	return sum16(s[:]) + sum16(d[:])
}

// fold16 folds a one's-complement sum to 16 bits, adding the carries back.
func fold16(sum uint64) uint64 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return sum
}

// sum16 adds b as big-endian 16-bit words (an odd last byte padded with
// zero) in one's complement. It adds 64-bit words with end-around carry,
// which folds to the same 16-bit sum (RFC 1071 §2).
func sum16(b []byte) uint64 {
	var sum, carry uint64
	for len(b) >= 32 {
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b), carry)
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[8:]), carry)
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[16:]), carry)
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[24:]), carry)
		b = b[32:]
	}
	for len(b) >= 8 {
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b), carry)
		b = b[8:]
	}
	sum, carry = bits.Add64(sum, carry, 0)
	sum += carry
	// Fold to 32 bits so the remaining small additions cannot overflow.
	sum = sum>>32 + sum&0xffffffff
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}
