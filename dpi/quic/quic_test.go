package quic

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInitialSecrets checks the key schedule against RFC 9001 A.1 and
// RFC 9369 A.1.
func TestInitialSecrets(t *testing.T) {
	dcid := unhex(t, rfcDCID)
	for _, c := range []struct {
		version             uint32
		secret, key, iv, hp string
	}{
		{Version1, "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
			"1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2"},
		{Version2, "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
			"8b1a0bc121284290a29e0971b5cd045d", "91f73e2351d8fa91660e909f", "45b95e15235d6f45a6b19cbcb0294ba9"},
	} {
		client, _, err := InitialSecrets(c.version, dcid)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(client) != c.secret {
			t.Errorf("%#x client secret %x", c.version, client)
		}
		p, _ := params(c.version)
		for label, want := range map[string]string{"key": c.key, "iv": c.iv, "hp": c.hp} {
			n := 16
			if label == "iv" {
				n = 12
			}
			got, ok := expandLabel(client, p.prefix, label, n)
			if !ok || hex.EncodeToString(got[:n]) != want {
				t.Errorf("%#x %s = %x, want %s", c.version, label, got[:n], want)
			}
		}
	}
}

// TestOpenClientInitial decrypts the client Initial packets of RFC 9001
// A.2 and RFC 9369 A.2 and finds their CRYPTO frame.
func TestOpenClientInitial(t *testing.T) {
	for _, c := range []struct {
		version uint32
		packet  string
	}{{Version1, rfcClientPacketV1}, {Version2, rfcClientPacketV2}} {
		pkt := unhex(t, c.packet)
		if len(pkt) != 1200 {
			t.Fatalf("vector is %d bytes", len(pkt))
		}
		h, err := ParseLongHeader(pkt)
		if err != nil || h.Type != TypeInitial || h.Version != c.version || hex.EncodeToString(h.DCID) != rfcDCID ||
			len(h.SCID) != 0 || len(h.Token) != 0 || h.PacketLen != 1200 || h.PNOffset != 18 {
			t.Fatalf("%#x header %+v %v", c.version, h, err)
		}
		k, err := ClientInitialKeys(c.version, h.DCID)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]byte, 1500)
		payload, pn, err := k.Open(dst, pkt, &h)
		if err != nil || pn != 2 {
			t.Fatalf("%#x open: pn %d %v", c.version, pn, err)
		}
		frames := unhex(t, rfcClientFrames)
		if !bytes.Equal(payload[:len(frames)], frames) || len(payload) != 1162 {
			t.Fatalf("%#x plaintext differs (%d bytes)", c.version, len(payload))
		}
		r := NewFrameReader(payload)
		f, ok := r.Next()
		if !ok || f.Type != FrameCrypto || f.Offset != 0 || len(f.Data) != 241 || f.Data[0] != 1 {
			t.Fatalf("frame %+v", f)
		}
		if _, ok := r.Next(); ok || r.Err() != nil {
			t.Errorf("padding not skipped: %v", r.Err())
		}
		// The tag is not verified (Keys.Open): a flipped ciphertext bit
		// flips the same plaintext bit and nothing else, as in CTR mode.
		want := append([]byte(nil), payload...)
		pkt[100] ^= 1
		got, _, err := k.Open(dst, pkt, &h)
		want[100-22] ^= 1
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("tampered packet: %v", err)
		}
		pkt[100] ^= 1
	}
}

// TestSealMatchesRFC checks Seal (used to build test packets) against the
// protected packets of the RFCs.
func TestSealMatchesRFC(t *testing.T) {
	dcid := unhex(t, rfcDCID)
	for _, c := range []struct {
		version        uint32
		header, packet string
	}{{Version1, rfcClientHeaderV1, rfcClientPacketV1}, {Version2, rfcClientHeaderV2, rfcClientPacketV2}} {
		k, _ := ClientInitialKeys(c.version, dcid)
		payload := make([]byte, 1162)
		copy(payload, unhex(t, rfcClientFrames))
		got := k.Seal(nil, unhex(t, c.header), payload, 18, 4, 2)
		if !bytes.Equal(got, unhex(t, c.packet)) {
			t.Errorf("%#x sealed packet differs", c.version)
		}
	}
}

// TestServerInitial opens the server's answer of RFC 9001 A.3 / RFC 9369
// A.3 with the server keys.
func TestServerInitial(t *testing.T) {
	dcid := unhex(t, rfcDCID)
	for _, c := range []struct {
		version uint32
		packet  string
	}{{Version1, rfcServerPacketV1}, {Version2, rfcServerPacketV2}} {
		pkt := unhex(t, c.packet)
		h, err := ParseLongHeader(pkt)
		if err != nil || h.Type != TypeInitial || len(h.SCID) != 8 {
			t.Fatalf("%+v %v", h, err)
		}
		_, s, _ := InitialSecrets(c.version, dcid)
		k, _ := NewKeys(c.version, s)
		payload, pn, err := k.Open(make([]byte, 256), pkt, &h)
		if err != nil || pn != 1 {
			t.Fatalf("%#x: %v", c.version, err)
		}
		r := NewFrameReader(payload)
		ack, ok1 := r.Next()
		crypto, ok2 := r.Next()
		if !ok1 || ack.Type != FrameACK || !ok2 || crypto.Type != FrameCrypto || len(crypto.Data) != 90 || crypto.Data[0] != 2 {
			t.Errorf("%#x frames %+v %+v", c.version, ack, crypto)
		}
	}
}

func TestVersions(t *testing.T) {
	for v, want := range map[uint32]bool{Version1: true, Version2: true, 0xff00001d: true, 0xff000022: true,
		0xff000017: true, 0xff000016: true, 0xff000015: false, VersionMVFST1: true, VersionT051: true,
		VersionQ050: true, 0x51303436: true, 0x51303433: true, 0x51303134: false, 0x1a2a3a4a: false} {
		if Supported(v) != want {
			t.Errorf("Supported(%#x) = %v", v, !want)
		}
	}
	if GoogleVersionNumber(0x51303436) != 46 || GoogleVersionNumber(Version1) != 0 {
		t.Error("GoogleVersionNumber")
	}
	if !CarriesTLS(VersionT051) || CarriesTLS(VersionQ050) || CarriesTLS(0x51303436) {
		t.Error("CarriesTLS")
	}
}

func TestVarint(t *testing.T) {
	// RFC 9000 §A.1 examples.
	for s, want := range map[string]uint64{"c2197c5eff14e88c": 151288809941952652, "9d7f3e7d": 494878333, "7bbd": 15293, "25": 37, "4025": 37} {
		b := unhex(t, s)
		v, n := ReadVarint(b)
		if v != want || n != len(b) {
			t.Errorf("%s: %d (%d bytes)", s, v, n)
		}
		if _, n := ReadVarint(b[:len(b)-1]); n != 0 && len(b) > 1 {
			t.Errorf("%s: short input accepted", s)
		}
	}
}

func TestFrames(t *testing.T) {
	p := []byte{
		0x00, 0x00, // padding
		0x01,                         // PING
		0x02, 0x05, 0x00, 0x01, 0x00, // ACK: largest 5, delay 0, 1 range, first 0
		0x01, 0x02, // range: gap 1, length 2
		0x03, 0x01, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, // ACK_ECN, no ranges, 3 counts
		0x06, 0x40, 0x10, 0x03, 'a', 'b', 'c', // CRYPTO offset 16, 3 bytes
		0x1c, 0x0a, 0x06, 0x02, 'n', 'o', // CONNECTION_CLOSE code 10, frame 6, "no"
	}
	r := NewFrameReader(p)
	var types []uint64
	var last Frame
	for f, ok := r.Next(); ok; f, ok = r.Next() {
		types = append(types, f.Type)
		if f.Type == FrameCrypto && (f.Offset != 16 || string(f.Data) != "abc") {
			t.Errorf("crypto %+v", f)
		}
		last = f
	}
	if r.Err() != nil || len(types) != 5 || last.Code != 10 || string(last.Data) != "no" {
		t.Errorf("types %x last %+v err %v", types, last, r.Err())
	}
	// STREAM frames are not allowed in Initial packets; lengths past the end fail.
	for _, bad := range [][]byte{{0x08, 0, 0}, {0x06, 0x00, 0x05, 'a'}, {0x02, 0x05}, {0x1c, 0x01, 0x00, 0x09, 'x'}} {
		r := NewFrameReader(bad)
		for _, ok := r.Next(); ok; _, ok = r.Next() {
		}
		if r.Err() == nil {
			t.Errorf("%x accepted", bad)
		}
	}
}

func TestCryptoReassembly(t *testing.T) {
	msg := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	var c Crypto
	c.Reset(make([]byte, 0, 64))
	c.Add(20, msg[20:30])
	c.Add(5, msg[5:12])
	if c.Contiguous() != nil {
		t.Fatal("hole at 0 not seen")
	}
	c.Add(0, msg[0:6]) // overlaps [5,12)
	if got := string(c.Contiguous()); got != string(msg[:12]) {
		t.Fatalf("contiguous %q", got)
	}
	c.Add(10, msg[10:22]) // bridges to [20,30)
	c.Add(30, msg[30:])
	if got := string(c.Contiguous()); got != string(msg) || c.Overflow {
		t.Fatalf("contiguous %q", got)
	}
	c.Add(52, []byte("0123456789")) // beyond the bound (64*8/9 = 56)
	if !c.Overflow || c.Received() != len(msg)+4 || c.Cap() != 56 {
		t.Errorf("overflow %v received %d cap %d", c.Overflow, c.Received(), c.Cap())
	}
	// Any number of holes, filled in any order: one byte at a time, odd
	// offsets first, then the even ones backwards.
	long := make([]byte, 3000)
	for i := range long {
		long[i] = byte(i * 7)
	}
	c.Reset(make([]byte, 0, 4096))
	for i := 1; i < len(long); i += 2 {
		c.Add(uint64(i), long[i:i+1])
	}
	for i := len(long) - 2; i >= 0; i -= 2 {
		if c.Contiguous() != nil && i > 0 {
			t.Fatalf("contiguous with a hole at %d", i)
		}
		c.Add(uint64(i), long[i:i+1])
	}
	if got := c.Contiguous(); string(got) != string(long) || c.Overflow || c.Received() != len(long) {
		t.Errorf("1-byte frames: %d bytes back, overflow %v", len(got), c.Overflow)
	}
	// Overlaps: the first bytes to arrive stand.
	c.Reset(make([]byte, 0, 64))
	c.Add(4, []byte("real"))
	c.Add(0, []byte("xxxxFAKEyy"))
	if got := string(c.Contiguous()); got != "xxxxrealyy" {
		t.Errorf("overlap: %q", got)
	}
}

// FuzzCryptoOrder: whatever the order and overlaps of the frames, the stream
// read back is the one sent, and the first bytes to arrive stand.
func FuzzCryptoOrder(f *testing.F) {
	f.Add([]byte{3, 1, 0, 2, 200, 7})
	f.Fuzz(func(t *testing.T, cuts []byte) {
		msg := make([]byte, 1000)
		for i := range msg {
			msg[i] = byte(i*31 + 7)
		}
		var c Crypto
		c.Reset(make([]byte, 0, 2048))
		// Frames of the sizes the input gives, sent in an order it picks.
		type frame struct{ off, n int }
		var frames []frame
		for off, i := 0, 0; off < len(msg); i++ {
			n := 1
			if len(cuts) > 0 {
				n = int(cuts[i%len(cuts)]) + 1
			}
			n = min(n, len(msg)-off)
			frames = append(frames, frame{off, n})
			off += n
		}
		for i := range frames {
			j := i
			if len(cuts) > 0 {
				j = (i*int(cuts[0]) + int(cuts[len(cuts)-1])) % len(frames)
			}
			frames[i], frames[j] = frames[j], frames[i]
		}
		decoy := make([]byte, 1000)
		for _, fr := range frames {
			c.Add(uint64(fr.off), msg[fr.off:fr.off+fr.n])
			c.Add(uint64(fr.off), decoy[fr.off:fr.off+fr.n]) // a late rewrite loses
		}
		if got := c.Contiguous(); string(got) != string(msg) || c.Received() != len(msg) {
			t.Fatalf("got %d bytes (received %d)", len(got), c.Received())
		}
	})
}

func TestCHLO(t *testing.T) {
	// Two tags: SNI (end 11) and UAID (end 20).
	b := []byte("CHLO\x02\x00\x00\x00SNI\x00\x0b\x00\x00\x00UAID\x14\x00\x00\x00www.foo.comChrome/1")
	b = append(b, '2')
	var c CHLO
	if !ParseCHLO(b, &c) || string(c.SNI) != "www.foo.com" || string(c.UAID) != "Chrome/12" {
		t.Errorf("%q %q", c.SNI, c.UAID)
	}
	if ParseCHLO(b[:20], &c) {
		t.Error("truncated CHLO accepted")
	}
}

func TestOpenDoesNotAllocate(t *testing.T) {
	pkt := unhex(t, rfcClientPacketV1)
	h, _ := ParseLongHeader(pkt)
	k, _ := ClientInitialKeys(Version1, h.DCID)
	dst := make([]byte, 1500)
	var c Crypto
	c.Reset(make([]byte, 0, 4096))
	allocs := testing.AllocsPerRun(100, func() {
		h, _ := ParseLongHeader(pkt)
		payload, _, _ := k.Open(dst, pkt, &h)
		r := NewFrameReader(payload)
		for f, ok := r.Next(); ok; f, ok = r.Next() {
			c.Add(f.Offset, f.Data)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet", allocs)
	}
}
