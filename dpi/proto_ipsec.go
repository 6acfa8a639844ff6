package dpi

// IPsec key exchange and NAT traversal over UDP. ESP and AH by IP protocol
// are classified by the engine.
//
// IKE (RFC 7296 §3.1, and ISAKMP for IKEv1, RFC 2408 §3.1) has a 28-byte
// header: initiator SPI (cookie), responder SPI, next payload, major and
// minor version, exchange type, flags, message id and the length of the
// whole message. A non-zero initiator SPI, a known version, exchange type
// and first payload, and a length equal to the datagram's make it
// unmistakable on any port. On port 4500 (RFC 3948) IKE follows a
// four-byte zero "non-ESP marker"; anything else there is ESP (SPI, then
// sequence number) or a one-byte 0xFF NAT keepalive.

type ipsecState struct {
	seen uint8 // bit per direction
	spi  [2]uint32
	seq  [2]uint16 // low bits of the ESP sequence number
}

const ikeHeaderLen = 28

func dissectIPSec(c *Ctx) Status {
	p := c.Payload
	natt := c.ServerPort() == 4500 || c.ClientPort() == 4500
	if natt && len(p) >= 4 && be32(p, 0) == 0 {
		p = p[4:] // non-ESP marker
	}
	if validIKE(p) {
		c.Set(ProtoIPSec, 0)
		return Done
	}
	if !natt {
		return Exclude
	}
	p = c.Payload
	if len(p) == 1 && p[0] == 0xff {
		c.Set(ProtoIPSec, 0) // NAT-keepalive (RFC 3948 §2.3)
		return Done
	}
	// ESP in UDP: SPI (1-255 are reserved), a sequence number that starts
	// at 1, at least an IV-less minimum of payload and ICV.
	if len(p) < 8+16 {
		return Exclude
	}
	spi, seq := be32(p, 0), be32(p, 4)
	if spi < 256 || seq == 0 {
		return Exclude
	}
	st := &c.s.p2p.ipsec
	d := c.Dir
	if st.seen&(1<<d) == 0 {
		st.seen |= 1 << d
		st.spi[d], st.seq[d] = spi, uint16(seq)
		if st.seen == 3 && st.spi[0] != st.spi[1] {
			c.Set(ProtoIPSec, 0) // an SA each way
			return Done
		}
		return Continue
	}
	if step := uint16(seq) - st.seq[d]; spi != st.spi[d] || step == 0 || step > 1024 {
		return Exclude
	}
	c.Set(ProtoIPSec, 0)
	return Done
}

// validIKE checks an IKEv1 or IKEv2 header against the datagram.
func validIKE(p []byte) bool {
	if len(p) < ikeHeaderLen || be32(p, 24) != uint32(len(p)) {
		return false
	}
	if be32(p, 0) == 0 && be32(p, 4) == 0 {
		return false // the initiator always chooses its SPI
	}
	np, ver, xchg := p[16], p[17], p[18]
	switch ver >> 4 {
	case 1: // ISAKMP/IKEv1
		if ver&0x0f != 0 {
			return false
		}
		if !(xchg >= 1 && xchg <= 5 || xchg == 32 || xchg == 33) {
			return false
		}
		// SA..Vendor ID, NAT-D and NAT-OA (RFC 3947), and the draft
		// NAT-T numbers 130/131.
		return np <= 13 || np == 20 || np == 21 || np == 130 || np == 131
	case 2:
		if !(xchg >= 34 && xchg <= 38 || xchg == 43 || xchg == 44) {
			return false
		}
		return np == 0 || np >= 33 && np <= 54 || np >= 128
	}
	return false
}
