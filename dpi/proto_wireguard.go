package dpi

// WireGuard (whitepaper §5.4). Every message starts with a type byte and
// three zero bytes:
//
//	1 handshake initiation  148 bytes  sender index at 4
//	2 handshake response     92 bytes  sender index at 4, receiver at 8
//	3 cookie reply           64 bytes  receiver index at 4
//	4 transport data        ≥32 bytes  receiver index at 4, counter at 8
//
// A response (or cookie reply) whose receiver index is the initiator's
// sender index proves the protocol; so does an initiation sent twice (a
// retransmission: the peer does not answer). A flow seen mid-session
// carries only transport data: each direction keeps addressing the same
// receiver index, with a counter that moves forward. TunnelBear's variant
// uses 204/100-byte handshakes.

type wgState struct {
	seen  uint8 // bit per direction: an index was recorded
	stage uint8
	idx   [2]uint32
	ctr   [2]uint16 // low bits of the transport counter
}

const (
	wgHandshake uint8 = iota + 1 // an initiation was seen
	wgTransport                  // transport data was seen
)

func dissectWireGuard(c *Ctx) Status {
	p := c.Payload
	if len(p) < 32 || p[1] != 0 || p[2] != 0 || p[3] != 0 || p[0] == 0 || p[0] > 4 {
		return Exclude
	}
	st := &c.s.p2p.wg
	d, o := c.Dir, 1-c.Dir
	switch typ := p[0]; {
	case typ == 1 && (len(p) == 148 || len(p) == 204):
		if st.stage == wgHandshake && st.seen&(1<<d) != 0 {
			return wgFound(c, 0) // retransmitted initiation
		}
		st.stage, st.seen = wgHandshake, 1<<d
		st.idx[d] = le32(p, 4)
		return Continue
	case typ == 2 && (len(p) == 92 || len(p) == 100), typ == 3 && len(p) == 64:
		if st.stage != wgHandshake || st.seen&(1<<o) == 0 {
			return Continue
		}
		at := 8
		if typ == 3 {
			at = 4
		}
		if le32(p, at) != st.idx[o] {
			return Exclude
		}
		if len(p) == 100 {
			return wgFound(c, ProtoTunnelBear)
		}
		return wgFound(c, 0)
	case typ == 4:
		idx, ctr := le32(p, 4), le16(p, 8)
		if st.stage != wgTransport {
			st.stage, st.seen = wgTransport, 0
		}
		if st.seen&(1<<d) == 0 {
			st.seen |= 1 << d
			st.idx[d], st.ctr[d] = idx, ctr
			return Continue
		}
		if step := int16(ctr - st.ctr[d]); idx != st.idx[d] || step < -64 {
			return Exclude
		}
		st.ctr[d] = ctr
		if st.seen == 3 {
			return wgFound(c, 0)
		}
		return Continue
	}
	return Exclude
}

func wgFound(c *Ctx, app ProtoID) Status {
	if app == 0 {
		app = vpnAppByAddr(c)
	}
	c.Set(ProtoWireGuard, app)
	return Done
}
