package tcpcraft

import "encoding/binary"

// ClientHello is a TLS 1.3 ClientHello record (RFC 8446 §4.1.2) naming
// name in its server_name extension (RFC 6066 §3), with pad bytes of
// padding extension (RFC 7685) to make it as large as one carrying
// post-quantum key shares.
func ClientHello(name string, pad int) []byte {
	var ext []byte
	add := func(typ uint16, body []byte) {
		ext = binary.BigEndian.AppendUint16(ext, typ)
		ext = binary.BigEndian.AppendUint16(ext, uint16(len(body)))
		ext = append(ext, body...)
	}
	sni := binary.BigEndian.AppendUint16(nil, uint16(3+len(name)))
	sni = append(sni, 0)
	sni = binary.BigEndian.AppendUint16(sni, uint16(len(name)))
	sni = append(sni, name...)
	add(0, sni)
	add(10, []byte{0, 4, 0, 0x1d, 0, 0x17})                                        // supported_groups: x25519, secp256r1
	add(13, []byte{0, 6, 4, 3, 8, 4, 4, 1})                                        // signature_algorithms
	add(16, []byte{0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'}) // ALPN
	add(43, []byte{4, 3, 4, 3, 3})                                                 // supported_versions: TLS 1.3, 1.2
	ks := []byte{0, 36, 0, 0x1d, 0, 32}
	ks = append(ks, make([]byte, 32)...)
	add(51, ks) // key_share: x25519
	if pad > 0 {
		add(21, make([]byte, pad))
	}
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 32)
	body = append(body, make([]byte, 32)...) // legacy session id
	body = append(body, 0, 8, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2f)
	body = append(body, 1, 0)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	hs := []byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{22, 3, 1}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(hs)))
	return append(rec, hs...)
}

// HTTPRequest is an HTTP/1.1 GET naming host.
func HTTPRequest(host string) []byte {
	return []byte("GET / HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n")
}

// Trick is one way of sending a request (real) past a DPI box, possibly
// with a decoy (the same kind of message naming another host) made for the
// box and not for the server. Packets returns the whole connection as the
// client and server send it, handshake included; a receiver that follows
// Linux reads real, and only real.
type Trick struct {
	Name    string
	Packets func(c *Conn, real, decoy []byte) [][]byte
}

// pieces cuts b at the given offsets.
func pieces(b []byte, at ...int) [][]byte {
	var out [][]byte
	last := 0
	for _, a := range at {
		if a > last && a < len(b) {
			out = append(out, b[last:a])
			last = a
		}
	}
	return append(out, b[last:])
}

// sendPieces sends the pieces of real at their offsets, in the order
// given by order (indexes into the pieces).
func sendPieces(c *Conn, ps [][]byte, order []int) [][]byte {
	offs := make([]uint32, len(ps))
	for i := 1; i < len(ps); i++ {
		offs[i] = offs[i-1] + uint32(len(ps[i-1]))
	}
	var out [][]byte
	for _, i := range order {
		out = append(out, c.Build(c.Data(ToServer, offs[i], ps[i])))
	}
	return out
}

// back is an offset n bytes before the first data byte.
func back(n uint32) uint32 { return 0 - n }

func seq(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

func rev(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = n - 1 - i
	}
	return o
}

// Tricks are the trick classes of GoodbyeDPI, zapret's nfqws and ByeDPI
// (split, disorder, fake with badsum / badseq / datanoack / md5sig / ts,
// seqovl), and the RST and SYN games of the literature.
var Tricks = []Trick{
	{"plain", func(c *Conn, real, _ []byte) [][]byte {
		return append(c.Handshake(), c.Build(c.Data(ToServer, 0, real)))
	}},
	{"split after the first byte", func(c *Conn, real, _ []byte) [][]byte {
		return append(c.Handshake(), sendPieces(c, pieces(real, 1), seq(2))...)
	}},
	{"split at 2 and inside the name", func(c *Conn, real, _ []byte) [][]byte {
		return append(c.Handshake(), sendPieces(c, pieces(real, 2, len(real)/2, len(real)/2+3), seq(4))...)
	}},
	{"reversed order", func(c *Conn, real, _ []byte) [][]byte {
		ps := pieces(real, 1, 40, len(real)/2)
		return append(c.Handshake(), sendPieces(c, ps, rev(len(ps)))...)
	}},
	{"first piece last", func(c *Conn, real, _ []byte) [][]byte {
		ps := pieces(real, 1, 5, len(real)/2)
		return append(c.Handshake(), sendPieces(c, ps, []int{1, 2, 3, 0})...)
	}},
	{"1-byte segments", func(c *Conn, real, _ []byte) [][]byte {
		out := c.Handshake()
		for i := range real {
			out = append(out, c.Build(c.Data(ToServer, uint32(i), real[i:i+1])))
			if i%2 == 1 {
				out = append(out, c.PureAt(ToClient, 0, uint32(i+1)))
			}
		}
		return out
	}},
	{"decoy with a bad checksum", func(c *Conn, real, decoy []byte) [][]byte {
		d := c.Data(ToServer, 0, decoy)
		d.BadSum = true
		return append(c.Handshake(), c.Build(d), c.Build(c.Data(ToServer, 0, real)))
	}},
	{"decoy far beyond the window", func(c *Conn, real, decoy []byte) [][]byte {
		return append(c.Handshake(), c.Build(c.Data(ToServer, 1<<30, decoy)), c.Build(c.Data(ToServer, 0, real)))
	}},
	{"decoy with an old sequence number", func(c *Conn, real, decoy []byte) [][]byte {
		return append(c.Handshake(), c.Build(c.Data(ToServer, back(10000), decoy)), c.Build(c.Data(ToServer, 0, real)))
	}},
	{"decoy without ACK", func(c *Conn, real, decoy []byte) [][]byte {
		d := c.Data(ToServer, 0, decoy)
		d.Flags = PSH
		return append(c.Handshake(), c.Build(d), c.Build(c.Data(ToServer, 0, real)))
	}},
	{"decoy acknowledging unsent data", func(c *Conn, real, decoy []byte) [][]byte {
		d := c.Data(ToServer, 0, decoy)
		d.Ack += 100000
		return append(c.Handshake(), c.Build(d), c.Build(c.Data(ToServer, 0, real)))
	}},
	{"decoy with an MD5 signature", func(c *Conn, real, decoy []byte) [][]byte {
		d := c.Data(ToServer, 0, decoy)
		d.MD5 = true
		return append(c.Handshake(), c.Build(d), c.Build(c.Data(ToServer, 0, real)))
	}},
	{"decoy failing PAWS", func(c *Conn, real, decoy []byte) [][]byte {
		c.TS = true
		out := c.Handshake()
		d := c.Data(ToServer, 0, decoy)
		d.OldTS = true
		return append(out, c.Build(d), c.Build(c.Data(ToServer, 0, real)))
	}},
	{"decoy with a TTL that expires before the server", func(c *Conn, real, decoy []byte) [][]byte {
		d := c.Data(ToServer, 0, decoy)
		d.TTL = 3
		return append(c.Handshake(), c.Build(d), c.Build(c.Data(ToServer, 0, real)))
	}},
	{"held decoy overwritten in order", func(c *Conn, real, decoy []byte) [][]byte {
		// The decoy's tail waits out of order; the real message, in
		// order, starts earlier and wins the overlap (Linux).
		return append(c.Handshake(), c.Build(c.Data(ToServer, 5, decoy[5:])), c.Build(c.Data(ToServer, 0, real)))
	}},
	{"garbage before the first byte (seqovl)", func(c *Conn, real, _ []byte) [][]byte {
		g := append(make([]byte, 32), real[:1]...)
		d := c.Data(ToServer, back(32), g)
		return append(c.Handshake(), c.Build(d), c.Build(c.Data(ToServer, 1, real[1:])))
	}},
	{"urgent byte inside the message (OOB)", func(c *Conn, real, _ []byte) [][]byte {
		// The receiver takes the urgent byte out of the stream (Linux
		// without SO_OOBINLINE): it reads real whole.
		k := len(real) / 2
		first := c.Data(ToServer, 0, append(append([]byte(nil), real[:k]...), 'X'))
		first.Urgent = uint16(k + 1)
		return append(c.Handshake(), c.Build(first), c.Build(c.Data(ToServer, uint32(k+1), real[k:])))
	}},
	{"decoy RST", func(c *Conn, real, _ []byte) [][]byte {
		r := c.Data(ToServer, 5000, nil)
		r.Flags = RST | ACK
		return append(c.Handshake(), c.Build(r), c.Build(c.Data(ToServer, 0, real)))
	}},
	{"decoy RST, SYN and decoy on a new ISN", func(c *Conn, real, decoy []byte) [][]byte {
		r := c.Data(ToServer, 5000, nil)
		r.Flags = RST | ACK
		out := append(c.Handshake(), c.Build(r))
		alt := *c
		alt.ISN[0] += 0x01000000
		out = append(out, alt.Syn(nil), alt.Build(alt.Data(ToServer, 0, decoy)))
		return append(out, c.Build(c.Data(ToServer, 0, real)))
	}},
	{"SYN with data", func(c *Conn, real, decoy []byte) [][]byte {
		return [][]byte{c.Syn(decoy), c.SynAck(), c.Pure(ToServer), c.Build(c.Data(ToServer, 0, real))}
	}},
	{"SYN retransmitted with another ISN", func(c *Conn, real, decoy []byte) [][]byte {
		alt := *c
		alt.ISN[0] += 0x01000000
		// The server answers the first SYN; the second (and its decoy)
		// is ignored.
		return [][]byte{c.Syn(nil), alt.Syn(nil), c.SynAck(), c.Pure(ToServer),
			alt.Build(alt.Data(ToServer, 0, decoy)), c.Build(c.Data(ToServer, 0, real))}
	}},
}
