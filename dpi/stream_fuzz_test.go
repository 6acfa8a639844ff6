package dpi

import (
	"bytes"
	"testing"

	"ips/internal/tcpcraft"
)

// linuxReceiver is a reference model of what a Linux receiver reads from
// one direction, written from net/ipv4/tcp_input.c's rules and not from
// the engine's code: in-order data is appended (its part before rcv_nxt
// trimmed); an out-of-order segment is dropped when the segment starting
// at or before it already covers it, replaces a segment starting at the
// same place that it covers, is kept beside a segment it partly overlaps,
// and removes the later segments it covers entirely (tcp_data_queue_ofo);
// when rcv_nxt reaches held segments they are read in order, each from
// rcv_nxt on (tcp_ofo_queue). Offsets count from the first data byte.
type linuxReceiver struct {
	nxt  int
	recv []byte
	ofo  []modelSeg // sorted by start
}

type modelSeg struct {
	s, e int
	data []byte
}

func (m *linuxReceiver) segment(s int, data []byte) {
	e := s + len(data)
	if len(data) == 0 || e <= m.nxt {
		return
	}
	if s <= m.nxt {
		m.recv = append(m.recv, data[m.nxt-s:]...)
		m.nxt = e
		for len(m.ofo) > 0 && m.ofo[0].s <= m.nxt {
			x := m.ofo[0]
			m.ofo = m.ofo[1:]
			if x.e > m.nxt {
				m.recv = append(m.recv, x.data[m.nxt-x.s:]...)
				m.nxt = x.e
			}
		}
		return
	}
	n := modelSeg{s, e, append([]byte(nil), data...)}
	i := -1 // the last segment starting at or before n
	for j := range m.ofo {
		if m.ofo[j].s <= s {
			i = j
		}
	}
	pos := i + 1
	if i >= 0 && s < m.ofo[i].e {
		x := m.ofo[i]
		if e <= x.e {
			return // all the bits are there
		}
		if s == x.s {
			m.ofo[i] = n
			pos = i
		}
	}
	if pos != i || i < 0 || m.ofo[i].s != s {
		m.ofo = append(m.ofo, modelSeg{})
		copy(m.ofo[pos+1:], m.ofo[pos:])
		m.ofo[pos] = n
	}
	for pos+1 < len(m.ofo) && e > m.ofo[pos+1].s && e >= m.ofo[pos+1].e {
		m.ofo = append(m.ofo[:pos+1], m.ofo[pos+2:]...)
	}
}

// FuzzStreamReassembly sends one direction of a connection as random
// segments (any order, overlaps, holes, duplicates, some with different
// bytes) and checks that the engine hands the dissectors what the model
// Linux receiver reads: the same number of bytes, and the same bytes
// unless the engine flagged contradicting overlaps (RiskTCPIssues), where
// it follows its documented rule (the earliest-starting segment wins).
// When it could not keep a segment (holes or buffer), it must say so
// (Uninspectable) and have delivered a prefix of the model's bytes.
func FuzzStreamReassembly(f *testing.F) {
	f.Add([]byte{0, 10, 0, 5, 10, 0, 10, 0, 0}) // in order
	f.Add([]byte{20, 30, 0, 0, 20, 0})          // a hole filled
	f.Add([]byte{1, 50, 0, 0, 1, 0})            // split after the first byte, reversed
	f.Add([]byte{5, 10, 1, 0, 30, 0})           // a held segment overwritten in order
	f.Add([]byte{10, 10, 0, 12, 20, 1, 10, 30, 0, 0, 10, 0})
	const size = 300
	truth := make([]byte, size)
	for i := range truth {
		truth[i] = byte(i*7 + 3)
	}
	// One engine for all inputs (each input's flow ends with Flush): a
	// new engine per input would cost more than the input.
	var got []byte
	var res Result
	e := NewEngine(Config{TCPBudget: 1 << 14, StreamBytes: 1024, MaxFlows: 16, DNSCache: NewDNSCache(16),
		OnEnd: func(fl *Flow, _ EndReason) { res = fl.Result }})
	e.disp = newDispatch([]dissector{{name: "record", l4: onTCP, fn: func(c *Ctx) Status {
		if c.Dir == ToServer {
			got = append(got, c.Payload...)
		}
		return Continue
	}}})
	f.Fuzz(func(t *testing.T, ops []byte) {
		got, res = got[:0], Result{}
		c := tcpcraft.New("10.0.0.2:40000", "192.0.2.7:443")
		var model linuxReceiver
		var p Packet
		now := int64(1e18)
		send := func(b []byte) {
			if err := p.DecodeIP(b); err != nil {
				t.Fatal(err)
			}
			p.Checksum = ChecksumUnverified
			now += 1e6
			e.Process(&p, now)
		}
		for _, b := range c.Handshake() {
			send(b)
		}
		conflicts := false
		for len(ops) >= 3 && len(ops) < 3*200 {
			off, n, v := int(ops[0])+int(ops[2]&0x80)<<1, int(ops[1])%64+1, ops[2]
			ops = ops[3:]
			off %= size
			if off+n > size {
				n = size - off
			}
			data := append([]byte(nil), truth[off:off+n]...)
			if v&3 == 1 {
				for i := range data {
					data[i] ^= 0x5a // the same place, other bytes
				}
				conflicts = true
			}
			model.segment(off, data)
			send(c.Build(c.Data(tcpcraft.ToServer, uint32(off), data)))
		}
		e.Flush()
		lost := res.Uninspectable
		switch {
		case lost:
			if len(got) > len(model.recv) || !bytes.Equal(got, model.recv[:len(got)]) {
				t.Fatalf("lost stream delivered %d bytes that are not a prefix of the %d Linux reads", len(got), len(model.recv))
			}
		case len(got) != len(model.recv):
			t.Fatalf("delivered %d bytes, Linux reads %d", len(got), len(model.recv))
		case !bytes.Equal(got, model.recv):
			if !res.Risks.Has(RiskTCPIssues) {
				t.Fatalf("delivered bytes differ from what Linux reads, without RiskTCPIssues")
			}
		}
		if !conflicts && res.Risks.Has(RiskTCPIssues) {
			t.Fatalf("RiskTCPIssues without contradicting bytes")
		}
		if !conflicts && !lost && !bytes.Equal(got, truth[:len(got)]) {
			t.Fatalf("without contradictions the stream is not the truth")
		}
	})
}
