package quic

import (
	"crypto/aes"
	"crypto/cipher"
)

// Seal protects a plaintext Initial packet (header with an unprotected
// packet number of pnLen bytes at pnOffset, followed by the payload),
// appending the result to dst. Tests and fuzzing use it to build packets
// the way a client does. Unlike Open it must produce a valid tag, so it
// uses the standard library's AES-GCM (and allocates); the package's own
// AES is never used to protect anything.
func (k *Keys) Seal(dst, header, payload []byte, pnOffset, pnLen int, pn uint64) []byte {
	block, err := aes.NewCipher(k.key[:])
	if err != nil {
		panic("quic: " + err.Error()) // unreachable: the key is 16 bytes
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("quic: " + err.Error()) // unreachable: AES has 16-byte blocks
	}
	hp, err := aes.NewCipher(k.hp[:])
	if err != nil {
		panic("quic: " + err.Error())
	}
	nonce := k.nonceFor(pn)
	start := len(dst)
	dst = append(dst, header...)
	dst = aead.Seal(dst, nonce[:], payload, header)
	pkt := dst[start:]
	var mask [16]byte
	hp.Encrypt(mask[:], pkt[pnOffset+4:pnOffset+20])
	if pkt[0]&0x80 != 0 {
		pkt[0] ^= mask[0] & 0x0f
	} else {
		pkt[0] ^= mask[0] & 0x1f
	}
	for i := 0; i < pnLen; i++ {
		pkt[pnOffset+i] ^= mask[1+i]
	}
	return dst
}
