//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strings"
	"testing"
)

// original is a first data segment as the kernel makes it: IPv4, TCP
// with a timestamp option, ACK|PSH, a payload naming blocked.example.
func original(payload []byte) []byte {
	const ihl, thl = 20, 32
	p := make([]byte, ihl+thl+len(payload))
	p[0], p[8], p[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(p[4:6], 0x1234)
	copy(p[12:16], []byte{10, 77, 0, 2})
	copy(p[16:20], []byte{10, 77, 0, 200})
	t := p[ihl:]
	binary.BigEndian.PutUint16(t[0:2], 20001)
	binary.BigEndian.PutUint16(t[2:4], 443)
	binary.BigEndian.PutUint32(t[4:8], 1000)
	binary.BigEndian.PutUint32(t[8:12], 5000)
	t[12], t[13] = thl/4<<4, flagACK|flagPSH
	binary.BigEndian.PutUint16(t[14:16], 502)
	copy(t[20:], []byte{1, 1, 8, 10, 0x10, 0, 0, 0, 0, 0, 0x20, 0})
	copy(t[thl:], payload)
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	finish(p, false)
	return p
}

// receiver is a small model of what a Linux receiver keeps of the
// segments after the handshake (rcv_nxt = 1000, TSval seen 0x1000 0000):
// it drops bad checksums, segments without ACK, unexpected MD5 options,
// old timestamps (PAWS), TTLs that the hops would expire, out-of-window
// and reset segments; in-order data is taken whole and out-of-order data
// it covers is dropped (tcp_data_queue, tcp_ofo_queue).
type receiver struct {
	next   uint32
	stream []byte
	ofo    map[uint32][]byte
}

func (r *receiver) take(t *testing.T, pkt []byte) {
	if pkt[8] < 5 {
		return
	}
	s, err := parse(pkt)
	if err != nil {
		t.Fatalf("crafted packet does not parse: %v", err)
	}
	if tcpChecksum(pkt[12:16], pkt[16:20], pkt[20:]) != 0 {
		return
	}
	if s.flags&flagACK == 0 || s.flags&flagRST != 0 {
		return
	}
	for o := s.tcp[20:]; len(o) >= 2 && o[0] != 0; {
		if o[0] == 1 {
			o = o[1:]
			continue
		}
		if o[0] == 19 {
			return
		}
		if o[0] == 8 && binary.BigEndian.Uint32(o[2:6]) < 0x10000000 {
			return
		}
		o = o[o[1]:]
	}
	seq, data := s.seq, s.payload
	if int32(seq-r.next) > 1<<16 || int32(seq+uint32(len(data))-r.next) <= 0 {
		return
	}
	if int32(seq-r.next) > 0 {
		r.ofo[seq] = data
		return
	}
	data = data[r.next-seq:]
	r.stream = append(r.stream, data...)
	r.next += uint32(len(data))
	for again := true; again; {
		again = false
		keys := make([]uint32, 0, len(r.ofo))
		for k := range r.ofo {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		for _, k := range keys {
			d := r.ofo[k]
			if int32(k-r.next) > 0 {
				break
			}
			delete(r.ofo, k)
			if end := k + uint32(len(d)); int32(end-r.next) > 0 {
				r.stream = append(r.stream, d[r.next-k:]...)
				r.next = end
				again = true
			}
		}
	}
}

// defrag joins IPv4 fragments (any order) into whole packets.
func defrag(pkts [][]byte) [][]byte {
	var out [][]byte
	frags := map[uint16][][]byte{}
	for _, p := range pkts {
		if binary.BigEndian.Uint16(p[6:8])&0x3fff == 0 {
			out = append(out, p)
			continue
		}
		id := binary.BigEndian.Uint16(p[4:6])
		frags[id] = append(frags[id], p)
	}
	for _, fs := range frags {
		sort.Slice(fs, func(i, j int) bool {
			return binary.BigEndian.Uint16(fs[i][6:8])&0x1fff < binary.BigEndian.Uint16(fs[j][6:8])&0x1fff
		})
		whole := append([]byte(nil), fs[0][:20]...)
		for _, f := range fs {
			whole = append(whole, f[20:]...)
		}
		binary.BigEndian.PutUint16(whole[2:4], uint16(len(whole)))
		binary.BigEndian.PutUint16(whole[6:8], 0)
		out = append(out, whole)
	}
	return out
}

// Every strategy delivers exactly the original bytes to a Linux-like
// receiver, and its decoys (where it has them) name the other host.
func TestStrategiesDeliverTheRealBytes(t *testing.T) {
	payload := []byte("\x16\x03\x01\x00\x40 client hello ... server_name blocked.example ... the rest of the hello")
	for _, s := range []string{
		"pass", "split,pos=1", "split,pos=2", "split,pos=midhost", "disorder,pos=1", "disorder,pos=midhost",
		"multisplit", "multidisorder", "multisplit,cuts=1+host+midhost", "multidisorder,cuts=1+midhost",
		"fake,fool=badsum,decoy=allowed.example", "fake,fool=badsum,form=copy,decoy=allowed.example",
		"fake,fool=badseq,decoy=allowed.example", "fake,fool=badseqahead,decoy=allowed.example",
		"fake,fool=noack,decoy=allowed.example", "fake,fool=md5sig,decoy=allowed.example",
		"fake,fool=badts,decoy=allowed.example", "fake,fool=ttl,decoy=allowed.example",
		"fakedsplit,fool=badsum,pos=midhost,decoy=allowed.example",
		"seqovl,pos=midhost,decoy=allowed.example", "ofooverlap,decoy=allowed.example",
		"rst,fool=badseq", "rst,fool=badsum", "ipfrag,pos=midhost", "ipfragdisorder,pos=midhost",
	} {
		t.Run(s, func(t *testing.T) {
			sp, err := parseSpec(s + ",host=blocked.example")
			if err != nil {
				t.Fatal(err)
			}
			raw := original(payload)
			seg, err := parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			pl := sp.apply(seg, raw)
			if len(pl.send) == 0 {
				t.Fatal("sent nothing")
			}
			pkts := defrag(pl.send)
			if pl.verdict == nfAccept {
				pkts = append(pkts, raw)
			}
			decoys := 0
			for _, p := range pl.send {
				if bytes.Contains(p, []byte("allowe")) { // split decoys carry half the name
					decoys++
				}
			}
			if strings.Contains(s, "decoy=") && decoys == 0 {
				t.Error("no packet carries the decoy name")
			}
			r := &receiver{next: 1000, ofo: map[uint32][]byte{}}
			for _, p := range pkts {
				r.take(t, p)
			}
			if !bytes.Equal(r.stream, payload) {
				t.Errorf("receiver got %q, want %q", r.stream, payload)
			}
		})
	}
}

func TestSyndataCarriesDecoy(t *testing.T) {
	syn := original(nil)
	syn[20+13] = flagSYN
	finish(syn, false)
	s, _ := parse(syn)
	sp, err := parseSpec("syndata,decoy=allowed.example,host=blocked.example")
	if err != nil {
		t.Fatal(err)
	}
	pl := sp.apply(s, syn)
	if len(pl.send) != 1 || pl.verdict != nfDrop {
		t.Fatalf("plan %+v", pl)
	}
	got, _ := parse(pl.send[0])
	if got.flags != flagSYN || got.seq != s.seq || !bytes.Contains(got.payload, []byte("allowed.example")) || got.payload[0] != 22 {
		t.Errorf("SYN flags %#x seq %d payload %q", got.flags, got.seq, got.payload)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(original([]byte("GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n")))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parse(b)
		if err != nil {
			return
		}
		if len(s.ip)+len(s.tcp)+len(s.payload) > len(b) {
			t.Fatal("segment longer than the packet")
		}
		if len(s.payload) == 0 {
			return // the tool rewrites data segments only
		}
		sp, _ := parseSpec("fakedsplit,fool=md5sig,pos=midhost,decoy=allowed.example,host=blocked.example")
		for _, p := range sp.apply(s, b).send {
			if _, err := parse(p); err != nil {
				t.Fatalf("crafted packet does not parse: %v", err)
			}
		}
	})
}

// Binary bytes before the name (a ClientHello's random and key share) do
// not move where it is found: case folding is ASCII only.
func TestHostIndexInBinary(t *testing.T) {
	b := []byte("\x16\x03\x01\x93\xff\xc3 server_name BloCked.Example ...")
	if i := hostIndex(b, "blocked.example"); i != 19 {
		t.Errorf("hostIndex = %d, want 19", i)
	}
	if d := swapped(b, "blocked.example", "allowed.example"); !bytes.Contains(d, []byte("allowed.example")) || len(d) != len(b) {
		t.Errorf("swapped %q", d)
	}
}
