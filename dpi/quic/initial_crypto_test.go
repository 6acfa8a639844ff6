package quic

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// The standard library is the oracle: stdKeys derives Initial keys with
// crypto/hkdf and stdOpen decrypts and authenticates with crypto/aes and
// cipher.NewGCM, as this package did before initial_crypto.go.

type stdKeys struct {
	key, iv, hp []byte
	aead        cipher.AEAD
	hpBlock     cipher.Block
}

func stdExpandLabel(t testing.TB, secret []byte, label string, n int) []byte {
	t.Helper()
	info := binary.BigEndian.AppendUint16(nil, uint16(n))
	info = append(info, byte(len("tls13 ")+len(label)))
	info = append(append(info, "tls13 "...), label...)
	info = append(info, 0)
	out, err := hkdf.Expand(sha256.New, secret, string(info), n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newStdKeys(t testing.TB, version uint32, dcid []byte) *stdKeys {
	t.Helper()
	p, ok := params(version)
	if !ok {
		t.Fatalf("version %#x", version)
	}
	initial, err := hkdf.Extract(sha256.New, dcid, p.salt)
	if err != nil {
		t.Fatal(err)
	}
	secret := stdExpandLabel(t, initial, "client in", hashLen)
	k := &stdKeys{
		key: stdExpandLabel(t, secret, p.prefix+"key", keyLen),
		iv:  stdExpandLabel(t, secret, p.prefix+"iv", ivLen),
		hp:  stdExpandLabel(t, secret, p.prefix+"hp", keyLen),
	}
	block, err := aes.NewCipher(k.key)
	if err != nil {
		t.Fatal(err)
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		t.Fatal(err)
	}
	if k.hpBlock, err = aes.NewCipher(k.hp); err != nil {
		t.Fatal(err)
	}
	return k
}

// open is the former Keys.Open: header protection, then AES-GCM with the
// tag checked.
func (k *stdKeys) open(dst, pkt []byte, h *Header) ([]byte, uint64, error) {
	if h.PacketLen > len(pkt) || h.PNOffset+4+16 > h.PacketLen || len(dst) < h.PacketLen {
		return nil, 0, ErrShort
	}
	var mask [16]byte
	k.hpBlock.Encrypt(mask[:], pkt[h.PNOffset+4:h.PNOffset+20])
	first := pkt[0] ^ mask[0]&0x0f
	pnLen := int(first&3) + 1
	hdrLen := h.PNOffset + pnLen
	if hdrLen+tagLen > h.PacketLen {
		return nil, 0, ErrShort
	}
	copy(dst, pkt[:hdrLen])
	dst[0] = first
	var pn uint64
	for i := 0; i < pnLen; i++ {
		dst[h.PNOffset+i] ^= mask[1+i]
		pn = pn<<8 | uint64(dst[h.PNOffset+i])
	}
	var nonce [12]byte
	copy(nonce[:], k.iv)
	for i := 0; i < 8; i++ {
		nonce[11-i] ^= byte(pn >> (8 * i))
	}
	out, err := k.aead.Open(dst[hdrLen:hdrLen], nonce[:], pkt[hdrLen:h.PacketLen], dst[:hdrLen])
	if err != nil {
		return nil, 0, ErrDecrypt
	}
	return out, pn, nil
}

// gfMul multiplies in AES's field (FIPS 197 §4.2).
func gfMul(a, b byte) byte {
	var p byte
	for ; b != 0; b >>= 1 {
		if b&1 != 0 {
			p ^= a
		}
		a = xtime(a)
	}
	return p
}

// TestAESTables recomputes the S-box (multiplicative inverse, then the
// affine transformation of FIPS 197 §5.1.1) and te0 from it.
func TestAESTables(t *testing.T) {
	for x := 0; x < 256; x++ {
		var inv byte
		for y := 1; y < 256; y++ {
			if gfMul(byte(x), byte(y)) == 1 {
				inv = byte(y)
			}
		}
		s := inv ^ 0x63
		for r := 1; r <= 4; r++ {
			s ^= inv<<r | inv>>(8-r)
		}
		if sbox[x] != s {
			t.Fatalf("sbox[%#x] = %#x, want %#x", x, sbox[x], s)
		}
		w := uint32(gfMul(s, 2))<<24 | uint32(s)<<16 | uint32(s)<<8 | uint32(gfMul(s, 3))
		if te0[x] != w {
			t.Fatalf("te0[%#x] = %#08x, want %#08x", x, te0[x], w)
		}
	}
}

// TestAESFIPS197 checks the key expansion of FIPS 197 Appendix A.1 and
// the cipher example of Appendix C.1.
func TestAESFIPS197(t *testing.T) {
	var c aes128
	key := [16]byte(unhex(t, "2b7e151628aed2a6abf7158809cf4f3c"))
	c.init(&key)
	for i, want := range map[int]uint32{0: 0x2b7e1516, 4: 0xa0fafe17, 9: 0x7a96b943, 20: 0xd4d1c6f8, 43: 0xb6630ca6} {
		if c.rk[i] != want {
			t.Errorf("w[%d] = %08x, want %08x", i, c.rk[i], want)
		}
	}
	key = [16]byte(unhex(t, "000102030405060708090a0b0c0d0e0f"))
	c.init(&key)
	block := [16]byte(unhex(t, "00112233445566778899aabbccddeeff"))
	c.encryptBlock(&block, &block)
	if got := hex.EncodeToString(block[:]); got != "69c4e0d86a7b0430d8cdb78070b4c55a" {
		t.Errorf("C.1 ciphertext %s", got)
	}
}

// TestHeaderProtectionMasks: mask = AES-ECB(hp, sample) for the client and
// server Initials of RFC 9001 A.2/A.3 and RFC 9369 A.2/A.3.
func TestHeaderProtectionMasks(t *testing.T) {
	for _, c := range []struct{ hp, sample, mask string }{
		{"9f50449e04a0e810283a1e9933adedd2", "d1b1c98dd7689fb8ec11d242b123dc9b", "437b9aec36"},
		{"c206b8d9b9f0f37644430b490eeaa314", "2cd0991cd25b0aac406a5816b6394100", "2ec0d8356a"},
		{"45b95e15235d6f45a6b19cbcb0294ba9", "ffe67b6abcdb4298b485dd04de806071", "94a0c95e80"},
		{"edf6d05c83121201b436e16877593c3a", "6f05d8a4398c47089698baeea26b91eb", "4dd92e91ea"},
	} {
		var a aes128
		key := [16]byte(unhex(t, c.hp))
		a.init(&key)
		var mask [16]byte
		a.encryptBlock(&mask, (*[16]byte)(unhex(t, c.sample)))
		if got := hex.EncodeToString(mask[:5]); got != c.mask {
			t.Errorf("hp %s: mask %s, want %s", c.hp, got, c.mask)
		}
	}
}

// TestDeriveMatchesRFC derives into a caller-owned Keys (RFC 9001 A.1,
// RFC 9369 A.1).
func TestDeriveMatchesRFC(t *testing.T) {
	for _, c := range []struct {
		version     uint32
		key, iv, hp string
	}{
		{Version1, "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2"},
		{Version2, "8b1a0bc121284290a29e0971b5cd045d", "91f73e2351d8fa91660e909f", "45b95e15235d6f45a6b19cbcb0294ba9"},
	} {
		var k Keys
		if err := k.DeriveClientInitial(c.version, unhex(t, rfcDCID)); err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(k.key[:]) != c.key || hex.EncodeToString(k.iv[:]) != c.iv || hex.EncodeToString(k.hp[:]) != c.hp {
			t.Errorf("%#x: key %x iv %x hp %x", c.version, k.key, k.iv, k.hp)
		}
	}
	var k Keys
	if err := k.DeriveClientInitial(0x1a2a3a4a, nil); err != ErrVersion {
		t.Errorf("unknown version: %v", err)
	}
	if err := k.DeriveClientInitial(Version1, make([]byte, 256)); err == nil {
		t.Error("256-byte connection ID accepted")
	}
}

var oracleVersions = []uint32{Version1, Version2, VersionDraft | 29, VersionDraft | 23, VersionDraft | 22,
	VersionMVFST1, VersionMVFST2, VersionQ050, VersionT050, VersionT051}

// TestHMACMatchesStdlib compares HMAC-SHA256 with crypto/hmac over random
// keys (shorter and longer than a block) and messages.
func TestHMACMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		key := make([]byte, r.IntN(100))
		msg := make([]byte, r.IntN(hmacMaxMsg+1))
		fill(r, key)
		fill(r, msg)
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		got := hmacSHA256(key, msg)
		if !bytes.Equal(got[:], m.Sum(nil)) {
			t.Fatalf("key %x msg %x: %x", key, msg, got)
		}
	}
}

// TestKeysMatchStdlib derives the client Initial keys of random
// connection IDs with crypto/hkdf and with this package.
func TestKeysMatchStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		v := oracleVersions[r.IntN(len(oracleVersions))]
		dcid := make([]byte, r.IntN(MaxCIDLen+1))
		fill(r, dcid)
		want := newStdKeys(t, v, dcid)
		var k Keys
		if err := k.DeriveClientInitial(v, dcid); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k.key[:], want.key) || !bytes.Equal(k.iv[:], want.iv) || !bytes.Equal(k.hp[:], want.hp) {
			t.Fatalf("%#x dcid %x: key %x iv %x hp %x, want %x %x %x", v, dcid, k.key, k.iv, k.hp, want.key, want.iv, want.hp)
		}
	}
}

// TestAESMatchesStdlib enciphers random blocks under random keys.
func TestAESMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 2000; i++ {
		var key, in, got, want [16]byte
		fill(r, key[:])
		fill(r, in[:])
		var c aes128
		c.init(&key)
		c.encryptBlock(&got, &in)
		b, _ := aes.NewCipher(key[:])
		b.Encrypt(want[:], in[:])
		if got != want {
			t.Fatalf("key %x block %x: %x, want %x", key, in, got, want)
		}
	}
}

// TestOpenMatchesStdlib seals random Initial packets with the standard
// library's AES-GCM (Seal) and opens them with Open and with the
// authenticating oracle: same packet number, same plaintext, over payload
// lengths that end mid-block and packet numbers of 1 to 4 bytes.
func TestOpenMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	dst := make([]byte, 2048)
	dst2 := make([]byte, 2048)
	for i := 0; i < 1000; i++ {
		v := oracleVersions[r.IntN(len(oracleVersions))]
		dcid := make([]byte, r.IntN(MaxCIDLen+1))
		fill(r, dcid)
		var k Keys
		if err := k.DeriveClientInitial(v, dcid); err != nil {
			t.Fatal(err)
		}
		pnLen := 1 + r.IntN(4)
		pn := r.Uint64() & (1<<(8*pnLen) - 1)
		payload := make([]byte, 4-pnLen+r.IntN(1400)) // the sample needs 4 bytes past the PN
		fill(r, payload)
		pkt, pnOffset := initialPacket(v, dcid, pnLen, pn, len(payload))
		pkt = k.Seal(nil, pkt, payload, pnOffset, pnLen, pn)
		h, err := ParseLongHeader(pkt)
		if err != nil || h.PNOffset != pnOffset || h.PacketLen != len(pkt) {
			t.Fatalf("header %+v %v", h, err)
		}
		got, gotPN, err := k.Open(dst, pkt, &h)
		want, wantPN, werr := newStdKeys(t, v, dcid).open(dst2, pkt, &h)
		if err != nil || werr != nil || gotPN != pn || wantPN != pn || !bytes.Equal(got, payload) || !bytes.Equal(want, payload) {
			t.Fatalf("%#x pn %d/%d: %v %v; plaintexts equal %v", v, gotPN, wantPN, err, werr, bytes.Equal(got, want))
		}
		if !bytes.Equal(dst[:pnOffset+pnLen], dst2[:pnOffset+pnLen]) {
			t.Fatalf("unprotected headers differ: %x %x", dst[:pnOffset+pnLen], dst2[:pnOffset+pnLen])
		}
	}
}

// initialPacket builds the unprotected header of a client Initial whose
// payload has n bytes (tag not included).
func initialPacket(v uint32, dcid []byte, pnLen int, pn uint64, n int) ([]byte, int) {
	typ := byte(0xc0) // Initial: type 0 (v2: 1, RFC 9369 §3.2)
	if p, _ := params(v); p.v2 {
		typ |= 0x10
	}
	b := []byte{typ | byte(pnLen-1)}
	b = binary.BigEndian.AppendUint32(b, v)
	b = append(append(b, byte(len(dcid))), dcid...)
	b = append(b, 0, 0) // no SCID, no token
	b = binary.BigEndian.AppendUint16(b, 0x4000|uint16(pnLen+n+tagLen))
	off := len(b)
	for i := pnLen - 1; i >= 0; i-- {
		b = append(b, byte(pn>>(8*i)))
	}
	return b, off
}

func fill(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

// TestDeriveAndOpenDoNotAllocate: a new connection's keys and its first
// Initial cost no heap allocation.
func TestDeriveAndOpenDoNotAllocate(t *testing.T) {
	pkt := unhex(t, rfcClientPacketV1)
	h, _ := ParseLongHeader(pkt)
	dst := make([]byte, 1500)
	var k Keys
	if n := testing.AllocsPerRun(100, func() {
		_ = k.DeriveClientInitial(Version1, h.DCID)
	}); n != 0 {
		t.Errorf("DeriveClientInitial: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		_, _, _ = k.Open(dst, pkt, &h)
	}); n != 0 {
		t.Errorf("Open: %v allocations", n)
	}
}

// Benchmarks: "stdlib" is the former implementation (crypto/hkdf, AES-GCM
// with the tag checked), "own" this package's.

func BenchmarkKeySetup(b *testing.B) {
	dcid := unhex(b, rfcDCID)
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			newStdKeys(b, Version1, dcid)
		}
	})
	b.Run("own", func(b *testing.B) {
		var k Keys
		b.ReportAllocs()
		for b.Loop() {
			_ = k.DeriveClientInitial(Version1, dcid)
		}
	})
}

func BenchmarkOpenInitial(b *testing.B) {
	pkt := unhex(b, rfcClientPacketV1)
	h, _ := ParseLongHeader(pkt)
	dst := make([]byte, 1500)
	b.Run("stdlib", func(b *testing.B) {
		k := newStdKeys(b, Version1, h.DCID)
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		for b.Loop() {
			if _, _, err := k.open(dst, pkt, &h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("own", func(b *testing.B) {
		var k Keys
		_ = k.DeriveClientInitial(Version1, h.DCID)
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		for b.Loop() {
			if _, _, err := k.Open(dst, pkt, &h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNewConnection is what a new QUIC flow costs the dissector:
// derive the keys, open the first 1200-byte Initial.
func BenchmarkNewConnection(b *testing.B) {
	pkt := unhex(b, rfcClientPacketV1)
	h, _ := ParseLongHeader(pkt)
	dst := make([]byte, 1500)
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := newStdKeys(b, Version1, h.DCID).open(dst, pkt, &h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("own", func(b *testing.B) {
		var k Keys
		b.ReportAllocs()
		for b.Loop() {
			_ = k.DeriveClientInitial(Version1, h.DCID)
			if _, _, err := k.Open(dst, pkt, &h); err != nil {
				b.Fatal(err)
			}
		}
	})
}
