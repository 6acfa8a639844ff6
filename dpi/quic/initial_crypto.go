package quic

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
)

// The cryptography of client Initial packets, written so that a new
// connection costs no heap allocation: HMAC-SHA256 and HKDF on fixed-size
// stack buffers over crypto/sha256.Sum256, and AES-128 with its key
// schedule in a value the caller owns. The standard library's HKDF (one
// hash.Hash per HMAC) and AES-GCM (a cipher.Block and a cipher.AEAD per
// key) cost about 50 allocations and 5 KB per connection.
//
// This code only ever reads packets whose keys are public: Initial keys
// follow from the Destination Connection ID and a salt published in the
// RFCs (RFC 9001 §5.2). It is never used to protect data, and never with
// a secret key: the table-based AES below leaks its key through cache
// timing, which is harmless for a key every observer can compute and
// would be a vulnerability for any other.

// hmacMaxMsg bounds the messages HMAC is computed over here: a connection
// ID (a length byte allows 255, RFC 8999 §5.1) or an HKDF-Expand-Label
// info block (a few dozen bytes).
const hmacMaxMsg = 255

// sha256BlockLen is SHA-256's input block size, HMAC's B (RFC 2104 §2).
const sha256BlockLen = 64

// hmacSHA256 is HMAC-SHA256 (RFC 2104) of msg, which must not exceed
// hmacMaxMsg bytes (it would be cut there).
func hmacSHA256(key, msg []byte) [sha256.Size]byte {
	var k [sha256BlockLen]byte
	if len(key) > sha256BlockLen {
		h := sha256.Sum256(key)
		copy(k[:], h[:])
	} else {
		copy(k[:], key)
	}
	// H((K ⊕ ipad) ‖ msg), then H((K ⊕ opad) ‖ inner).
	var in [sha256BlockLen + hmacMaxMsg]byte
	for i, b := range k {
		in[i] = b ^ 0x36
	}
	n := sha256BlockLen + copy(in[sha256BlockLen:], msg)
	inner := sha256.Sum256(in[:n])
	var out [sha256BlockLen + sha256.Size]byte
	for i, b := range k {
		out[i] = b ^ 0x5c
	}
	copy(out[sha256BlockLen:], inner[:])
	return sha256.Sum256(out[:])
}

// hkdfExtract is HKDF-Extract (RFC 5869 §2.2); ok is false when ikm is
// longer than HMAC's message buffer.
func hkdfExtract(salt, ikm []byte) (prk [sha256.Size]byte, ok bool) {
	if len(ikm) > hmacMaxMsg {
		return prk, false
	}
	return hmacSHA256(salt, ikm), true
}

// hkdfMaxLabel bounds the labels of expandLabel: "tls13 " and the longest
// QUIC label, "quicv2 key" (RFC 9369 §3.3.2), fit with room to spare.
const hkdfMaxLabel = 32

// expandLabel is TLS 1.3's HKDF-Expand-Label(secret, label, "", n) (RFC
// 8446 §7.1) for n ≤ 32, where HKDF-Expand (RFC 5869 §2.3) is one HMAC
// block: T(1) = HMAC(secret, info ‖ 0x01). The label is "tls13 " ‖ prefix
// ‖ label. The result is in out[:n]; n is part of the info, so the first
// bytes of a longer output differ. ok is false if the label is too long.
func expandLabel(secret []byte, prefix, label string, n int) (out [sha256.Size]byte, ok bool) {
	const tls13 = "tls13 "
	l := len(tls13) + len(prefix) + len(label)
	if l > hkdfMaxLabel || n < 0 || n > sha256.Size {
		return out, false
	}
	// HkdfLabel: uint16 length, opaque label<7..255>, opaque context<0..255>.
	var info [2 + 1 + hkdfMaxLabel + 1 + 1]byte
	binary.BigEndian.PutUint16(info[:], uint16(n))
	info[2] = byte(l)
	i := 3 + copy(info[3:], tls13)
	i += copy(info[i:], prefix)
	i += copy(info[i:], label)
	info[i] = 0   // empty context
	info[i+1] = 1 // the block counter of T(1)
	return hmacSHA256(secret, info[:i+2]), true
}

// aes128 is an AES-128 encryption key schedule (FIPS 197 §5.2): eleven
// round keys of four big-endian words. It is a plain value: a caller keeps
// it on its stack or in a struct of its own and refills it with init.
type aes128 struct {
	rk [4 * 11]uint32
}

// xtime multiplies by x in GF(2⁸) modulo x⁸+x⁴+x³+x+1 (FIPS 197 §4.2.1).
func xtime(b byte) byte {
	return b<<1 ^ 0x1b*(b>>7)
}

// subWord applies the S-box to each byte of w (FIPS 197 §5.2).
func subWord(w uint32) uint32 {
	return uint32(sbox[uint8(w>>24)])<<24 | uint32(sbox[uint8(w>>16)])<<16 |
		uint32(sbox[uint8(w>>8)])<<8 | uint32(sbox[uint8(w)])
}

// init expands key into the schedule (FIPS 197 §5.2, KeyExpansion with
// Nk = 4, Nr = 10).
func (c *aes128) init(key *[16]byte) {
	for i := 0; i < 4; i++ {
		c.rk[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	rcon := byte(1)
	for i := 4; i < len(c.rk); i++ {
		t := c.rk[i-1]
		if i%4 == 0 {
			t = subWord(bits.RotateLeft32(t, 8)) ^ uint32(rcon)<<24
			rcon = xtime(rcon)
		}
		c.rk[i] = c.rk[i-4] ^ t
	}
}

// encrypt enciphers one block given as four big-endian column words
// (FIPS 197 §5.1). Each of the nine full rounds looks SubBytes, ShiftRows
// and MixColumns up in te0: output column j takes row r from input column
// j+r, and row r's MixColumns coefficients are te0 rotated right by 8r.
func (c *aes128) encrypt(s0, s1, s2, s3 uint32) (uint32, uint32, uint32, uint32) {
	s0 ^= c.rk[0]
	s1 ^= c.rk[1]
	s2 ^= c.rk[2]
	s3 ^= c.rk[3]
	for r := 4; r < 40; r += 4 {
		k := (*[4]uint32)(c.rk[r : r+4])
		t0 := te0[uint8(s0>>24)] ^ bits.RotateLeft32(te0[uint8(s1>>16)], -8) ^
			bits.RotateLeft32(te0[uint8(s2>>8)], -16) ^ bits.RotateLeft32(te0[uint8(s3)], -24) ^ k[0]
		t1 := te0[uint8(s1>>24)] ^ bits.RotateLeft32(te0[uint8(s2>>16)], -8) ^
			bits.RotateLeft32(te0[uint8(s3>>8)], -16) ^ bits.RotateLeft32(te0[uint8(s0)], -24) ^ k[1]
		t2 := te0[uint8(s2>>24)] ^ bits.RotateLeft32(te0[uint8(s3>>16)], -8) ^
			bits.RotateLeft32(te0[uint8(s0>>8)], -16) ^ bits.RotateLeft32(te0[uint8(s1)], -24) ^ k[2]
		t3 := te0[uint8(s3>>24)] ^ bits.RotateLeft32(te0[uint8(s0>>16)], -8) ^
			bits.RotateLeft32(te0[uint8(s1>>8)], -16) ^ bits.RotateLeft32(te0[uint8(s2)], -24) ^ k[3]
		s0, s1, s2, s3 = t0, t1, t2, t3
	}
	// The last round has no MixColumns.
	k := (*[4]uint32)(c.rk[40:44])
	o0 := uint32(sbox[uint8(s0>>24)])<<24 | uint32(sbox[uint8(s1>>16)])<<16 | uint32(sbox[uint8(s2>>8)])<<8 | uint32(sbox[uint8(s3)])
	o1 := uint32(sbox[uint8(s1>>24)])<<24 | uint32(sbox[uint8(s2>>16)])<<16 | uint32(sbox[uint8(s3>>8)])<<8 | uint32(sbox[uint8(s0)])
	o2 := uint32(sbox[uint8(s2>>24)])<<24 | uint32(sbox[uint8(s3>>16)])<<16 | uint32(sbox[uint8(s0>>8)])<<8 | uint32(sbox[uint8(s1)])
	o3 := uint32(sbox[uint8(s3>>24)])<<24 | uint32(sbox[uint8(s0>>16)])<<16 | uint32(sbox[uint8(s1>>8)])<<8 | uint32(sbox[uint8(s2)])
	return o0 ^ k[0], o1 ^ k[1], o2 ^ k[2], o3 ^ k[3]
}

// encryptBlock enciphers src into dst (16 bytes each; they may overlap).
func (c *aes128) encryptBlock(dst, src *[16]byte) {
	s0, s1, s2, s3 := c.encrypt(binary.BigEndian.Uint32(src[0:]), binary.BigEndian.Uint32(src[4:]),
		binary.BigEndian.Uint32(src[8:]), binary.BigEndian.Uint32(src[12:]))
	binary.BigEndian.PutUint32(dst[0:], s0)
	binary.BigEndian.PutUint32(dst[4:], s1)
	binary.BigEndian.PutUint32(dst[8:], s2)
	binary.BigEndian.PutUint32(dst[12:], s3)
}

// gcmXOR is the confidentiality half of AES-GCM with a 96-bit nonce (NIST
// SP 800-38D §7.1): GCTR from the counter block nonce ‖ counter, counter
// incremented modulo 2³² per block (inc32). The payload starts at counter
// 2, as J0 = nonce ‖ 1 only encrypts the tag. dst receives src XOR the key
// stream; len(dst) must be at least len(src), and dst may be src.
func (c *aes128) gcmXOR(dst, src []byte, nonce *[12]byte, counter uint32) {
	n0 := binary.BigEndian.Uint32(nonce[0:])
	n1 := binary.BigEndian.Uint32(nonce[4:])
	n2 := binary.BigEndian.Uint32(nonce[8:])
	for len(src) >= 16 && len(dst) >= 16 {
		k0, k1, k2, k3 := c.encrypt(n0, n1, n2, counter)
		counter++
		binary.BigEndian.PutUint32(dst[0:], binary.BigEndian.Uint32(src[0:])^k0)
		binary.BigEndian.PutUint32(dst[4:], binary.BigEndian.Uint32(src[4:])^k1)
		binary.BigEndian.PutUint32(dst[8:], binary.BigEndian.Uint32(src[8:])^k2)
		binary.BigEndian.PutUint32(dst[12:], binary.BigEndian.Uint32(src[12:])^k3)
		src, dst = src[16:], dst[16:]
	}
	if len(src) == 0 || len(dst) < len(src) {
		return
	}
	var ks [16]byte
	k0, k1, k2, k3 := c.encrypt(n0, n1, n2, counter)
	binary.BigEndian.PutUint32(ks[0:], k0)
	binary.BigEndian.PutUint32(ks[4:], k1)
	binary.BigEndian.PutUint32(ks[8:], k2)
	binary.BigEndian.PutUint32(ks[12:], k3)
	for i, b := range src {
		dst[i] = b ^ ks[i]
	}
}
