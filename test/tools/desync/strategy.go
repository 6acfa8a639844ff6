//go:build linux

package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"ips/internal/ascii"
)

// spec is one strategy: a name and its parameters, written
// "name,key=value,...":
//
//	pass                          the first data segment goes out untouched (through our socket)
//	split,pos=P                   two segments cut at P, in order
//	disorder,pos=P                the same, second part first
//	multisplit[,cuts=P+P...]      one byte per segment up to the end of the hostname, then the
//	                              rest; or cut at the positions given
//	multidisorder[,cuts=...]      the same segments, last first
//	fake,fool=F,decoy=D[,form=copy]  a decoy naming D (fooled by F) at the same sequence, then the
//	                              real segment; the decoy is a whole request of its own (nfqws's
//	                              default), or with form=copy the real segment with the name swapped
//	fakedsplit,fool=F,decoy=D,pos=P  split at P, each part preceded by its decoy copy
//	seqovl,decoy=D,pos=P          split at P; the first part is prefixed with a whole decoy
//	                              request naming D, its sequence number moved back by the prefix's
//	                              length, so the prefix lies before the stream's start
//	ofooverlap,decoy=D            an out-of-order segment from the hostname on with the decoy's bytes,
//	                              then the real segment from the start (the receiver keeps the real bytes)
//	rst,fool=F                    a reset the receiver drops (F: badseq or badsum), then the real segment
//	syndata,decoy=D               the SYN carries a decoy request naming D (the server, without TCP
//	                              Fast Open, ignores it)
//	ipfrag,pos=P                  the first data segment in two IP fragments cut near P
//	ipfragdisorder,pos=P          the same, second fragment first
//
// host=H names the real hostname (positions "host", "midhost", "endhost"
// and the decoys are found by it). Fooling F: badsum, badseq (sequence
// 10000 behind, acknowledgment 66000 behind), badseqahead (1 MiB ahead),
// noack, md5sig, badts (old TCP timestamp), ttl (TTL 2: expires on the
// hops after the gateway).
type spec struct {
	name  string
	pos   string
	fool  string
	decoy string
	host  string
	form  string
	cuts  string // multisplit, multidisorder: positions joined by "+"
}

func parseSpec(s string) (spec, error) {
	parts := strings.Split(strings.TrimSpace(s), ",")
	sp := spec{name: parts[0], pos: "1"}
	for _, kv := range parts[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return sp, fmt.Errorf("%q: %q is not key=value", s, kv)
		}
		switch k {
		case "pos":
			sp.pos = v
		case "cuts":
			sp.cuts = v
		case "fool":
			if _, err := foolingOf(v); err != nil {
				return sp, err
			}
			sp.fool = v
		case "decoy":
			sp.decoy = v
		case "host":
			sp.host = v
		case "form":
			if v != "copy" && v != "whole" {
				return sp, fmt.Errorf("%q: form is copy or whole", s)
			}
			sp.form = v
		default:
			return sp, fmt.Errorf("%q: unknown key %q", s, k)
		}
	}
	switch sp.name {
	case "pass", "split", "disorder", "multisplit", "multidisorder", "seqovl", "ofooverlap",
		"syndata", "ipfrag", "ipfragdisorder", "quicdisorder", "quicreorder", "quicshuffle":
	case "fake", "fakedsplit", "rst":
		if sp.fool == "" {
			return sp, fmt.Errorf("%q: %s needs fool=", s, sp.name)
		}
	default:
		return sp, fmt.Errorf("%q: unknown strategy %q", s, sp.name)
	}
	if (sp.name == "fake" || sp.name == "fakedsplit" || sp.name == "seqovl" || sp.name == "ofooverlap" || sp.name == "syndata") && sp.decoy == "" {
		return sp, fmt.Errorf("%q: %s needs decoy=", s, sp.name)
	}
	return sp, nil
}

func foolingOf(name string) (fooling, error) {
	switch name {
	case "badsum":
		return fooling{badsum: true}, nil
	case "badseq":
		return fooling{seqInc: -10000, ackInc: -66000}, nil
	case "badseqahead":
		return fooling{seqInc: 1 << 20}, nil
	case "noack":
		return fooling{noack: true}, nil
	case "md5sig":
		return fooling{md5: true}, nil
	case "badts":
		return fooling{tsDec: 1 << 20}, nil
	case "ttl":
		return fooling{ttl: 2}, nil
	}
	return fooling{}, fmt.Errorf("unknown fooling %q", name)
}

// hostIndex finds the hostname in the payload, ignoring ASCII case.
func hostIndex(payload []byte, host string) int {
	if host == "" {
		return -1
	}
	return ascii.Index(payload, strings.ToLower(host))
}

// position resolves a position in the payload, kept inside (0, len).
func position(payload []byte, pos, host string) int {
	n := len(payload)
	p := 1
	h := hostIndex(payload, host)
	switch pos {
	case "host":
		p = h
	case "midhost":
		p = h + len(host)/2
	case "endhost":
		p = h + len(host)
	default:
		if v, err := strconv.Atoi(pos); err == nil {
			p = v
		}
	}
	if (pos == "host" || pos == "midhost" || pos == "endhost") && h < 0 {
		p = n / 2
	}
	return max(1, min(p, n-1))
}

// swapped is the payload with the real hostname replaced by the decoy of
// the same length, so the decoy lines up byte for byte with the real
// segment; nil when the lengths differ or the name is not there.
func swapped(payload []byte, host, decoy string) []byte {
	h := hostIndex(payload, host)
	if h < 0 || len(host) != len(decoy) {
		return nil
	}
	d := append([]byte(nil), payload...)
	copy(d[h:], decoy)
	return d
}

var helloCache sync.Map

// request is a whole first request naming name: a TLS ClientHello (made
// by crypto/tls, X25519 only so it fits in a SYN) for port 443, an HTTP
// GET otherwise.
func request(name string, port uint16) []byte {
	if port != 443 {
		return []byte("GET / HTTP/1.1\r\nHost: " + name + "\r\n\r\n")
	}
	if v, ok := helloCache.Load(name); ok {
		return v.([]byte)
	}
	a, b := net.Pipe()
	go func() {
		c := tls.Client(a, &tls.Config{ServerName: name, InsecureSkipVerify: true,
			CurvePreferences: []tls.CurveID{tls.X25519}, MinVersion: tls.VersionTLS12})
		c.SetDeadline(time.Now().Add(time.Second))
		c.Handshake()
		a.Close()
	}()
	buf := make([]byte, 4096)
	b.SetReadDeadline(time.Now().Add(time.Second))
	var got []byte
	for len(got) < 5 || len(got) < 5+int(got[3])<<8|int(got[4]) {
		n, err := b.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	b.Close()
	helloCache.Store(name, got)
	return got
}

// plan is what to do with one queued packet: packets to send first, then
// the verdict on the original.
type plan struct {
	send    [][]byte
	verdict uint32
}

// apply runs the strategy on the first data segment (or, for syndata, on
// the SYN).
func (sp spec) apply(s segment, raw []byte) plan {
	var id uint16 // IPv4 identification; unused for IPv6
	if !s.v6() {
		id = uint16(raw[4])<<8 | uint16(raw[5])
	}
	next := func() uint16 { id++; return id }
	pl := s.payload
	n := len(pl)
	seg := func(off, end int, data []byte, f fooling) []byte {
		if data == nil {
			data = pl
		}
		return build(s, s.seq+uint32(off), s.flags, data[off:end], f, next())
	}
	drop := func(pkts ...[]byte) plan { return plan{send: pkts, verdict: nfDrop} }
	f, _ := foolingOf(sp.fool)
	switch sp.name {
	case "pass":
		return drop(seg(0, n, nil, fooling{}))
	case "split", "disorder":
		p := position(pl, sp.pos, sp.host)
		a, b := seg(0, p, nil, fooling{}), seg(p, n, nil, fooling{})
		if sp.name == "disorder" {
			return drop(b, a)
		}
		return drop(a, b)
	case "multisplit", "multidisorder":
		var cuts []int
		if sp.cuts != "" {
			for _, c := range strings.Split(sp.cuts, "+") {
				if p := position(pl, c, sp.host); len(cuts) == 0 || p > cuts[len(cuts)-1] {
					cuts = append(cuts, p)
				}
			}
		} else {
			end := min(n, 64)
			if h := hostIndex(pl, sp.host); h >= 0 {
				end = min(n, h+len(sp.host)+1)
			}
			for i := 1; i <= end; i++ {
				cuts = append(cuts, i)
			}
		}
		var out [][]byte
		prev := 0
		for _, c := range append(cuts, n) {
			if c > prev && c <= n {
				out = append(out, seg(prev, c, nil, fooling{}))
				prev = c
			}
		}
		if sp.name == "multidisorder" {
			for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
		}
		return drop(out...)
	case "fake":
		d := request(sp.decoy, s.dport)
		if sp.form == "copy" {
			d = sp.decoyFor(s)
		}
		return drop(seg(0, len(d), d, f), seg(0, n, nil, fooling{}))
	case "fakedsplit":
		d := sp.decoyFor(s)
		if len(d) != n {
			d = append(d[:min(len(d), n):min(len(d), n)], make([]byte, max(0, n-len(d)))...)
		}
		p := position(pl, sp.pos, sp.host)
		return drop(seg(0, p, d, f), seg(0, p, nil, fooling{}), seg(p, n, d, f), seg(p, n, nil, fooling{}))
	case "seqovl":
		prefix := request(sp.decoy, s.dport)
		p := position(pl, sp.pos, sp.host)
		first := append(append([]byte(nil), prefix...), pl[:p]...)
		a := build(s, s.seq-uint32(len(prefix)), s.flags, first, fooling{}, next())
		return drop(a, seg(p, n, nil, fooling{}))
	case "ofooverlap":
		d := swapped(pl, sp.host, sp.decoy)
		if d == nil {
			return drop(seg(0, n, nil, fooling{}))
		}
		h := max(1, hostIndex(pl, sp.host))
		return drop(seg(h, n, d, fooling{}), seg(0, n, nil, fooling{}))
	case "rst":
		r := build(s, s.seq, flagRST|flagACK, nil, f, next())
		if sp.fool == "badseq" {
			r = build(s, s.seq, flagRST|flagACK, nil, fooling{seqInc: 1 << 24}, next())
		}
		return plan{send: [][]byte{r}, verdict: nfAccept}
	case "syndata":
		return drop(build(s, s.seq, s.flags, request(sp.decoy, s.dport), fooling{}, id))
	case "ipfrag", "ipfragdisorder":
		whole := seg(0, n, nil, fooling{})
		p := position(pl, sp.pos, sp.host)
		fr := fragments(whole, len(s.tcp)+p)
		if sp.name == "ipfragdisorder" && len(fr) == 2 {
			fr[0], fr[1] = fr[1], fr[0]
		}
		return drop(fr...)
	}
	return plan{verdict: nfAccept}
}

// decoyFor is the decoy for a fake: the real segment with the hostname
// swapped when the names have the same length, else a whole request
// naming the decoy.
func (sp spec) decoyFor(s segment) []byte {
	if d := swapped(s.payload, sp.host, sp.decoy); d != nil {
		return d
	}
	return request(sp.decoy, s.dport)
}
