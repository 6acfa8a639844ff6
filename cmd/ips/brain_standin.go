package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"ips/verdict"
)

// The stand-in brain understands the part of the nProbe IPS policy format
// that needs no DPI: pools of LAN hosts by address or CIDR, a policy per
// pool, the policy tree's "root" and each policy's "default_marker".
// Files it accepts mean the same to the real policy engine, so tests and
// operators can use them unchanged once it is wired in.
type standinBrain struct {
	set atomic.Pointer[standinSet]
	ev  *eventSink
	log *slog.Logger
}

type standinPool struct {
	id     int
	name   string
	policy int
	nets   []netip.Prefix
}

type standinSet struct {
	pools    []standinPool
	policies map[int]standinPolicy
}

type standinPolicy struct {
	id      int
	name    string
	root    *int
	marker  *verdict.Decision
	explain string
}

func newStandinBrain(opt brainOptions, ev *eventSink, log *slog.Logger) (brain, []string, error) {
	log.Warn("policy engine: stand-in (pools and default markers only, no DPI markers)")
	if opt.GeoIP != "" {
		log.Warn("--geoip is not used by the stand-in policy engine", "geoip", opt.GeoIP)
	}
	b := &standinBrain{ev: ev, log: log}
	w, err := b.Reload(opt.Policy)
	if err != nil {
		return nil, w, err
	}
	return b, w, nil
}

func (b *standinBrain) Reload(path string) ([]string, error) {
	s, w, err := parseStandin(path)
	if err != nil {
		return w, err
	}
	b.set.Store(s)
	return w, nil
}

func (b *standinBrain) ShapeClasses() []uint16 { return nil }

func (b *standinBrain) NewDecider(queue uint16) verdict.Decider {
	return &standinDecider{b: b, flows: map[standinKey]*standinFlow{}}
}

func parseMarker(raw json.RawMessage) (verdict.Decision, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if a, ok := verdict.ParseAction(s); ok && a != verdict.None && a != verdict.Shape && a != verdict.Mark {
			return verdict.Decision{Action: a, Final: true}, nil
		}
		if n, err := strconv.Atoi(s); err == nil {
			return markerNumber(n)
		}
		return verdict.Decision{}, fmt.Errorf("marker %q: want pass, drop, reject or a number", s)
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		return verdict.Decision{}, fmt.Errorf("marker %s: want a string or a number", raw)
	}
	return markerNumber(n)
}

// markerNumber reads nProbe's integer markers: 1 pass, 2 drop, any other
// number a mark for the operator's rules.
func markerNumber(n int) (verdict.Decision, error) {
	switch {
	case n == 1:
		return verdict.Decision{Action: verdict.Pass, Final: true}, nil
	case n == 2:
		return verdict.Decision{Action: verdict.Drop, Final: true}, nil
	case n > 2 && n < 1<<16:
		return verdict.Decision{Action: verdict.Mark, Class: uint16(n), Final: true}, nil
	}
	return verdict.Decision{}, fmt.Errorf("marker %d out of range", n)
}

// parseStandin reads the file; every problem is reported, with its line.
func parseStandin(path string) (*standinSet, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("policy: %w", err)
	}
	s := &standinSet{policies: map[int]standinPolicy{}}
	var errs []error
	var warns []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fail := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, a...)))
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(text), &obj); err != nil {
			fail("%v", err)
			continue
		}
		for k := range obj {
			if k != "pool" && k != "policy" {
				warns = append(warns, fmt.Sprintf("%s:%d: key %q ignored by the stand-in policy", path, line, k))
			}
		}
		var pol struct {
			ID            *int            `json:"id"`
			Name          string          `json:"name"`
			Root          *int            `json:"root"`
			DefaultMarker json.RawMessage `json:"default_marker"`
		}
		if raw, ok := obj["policy"]; ok {
			if err := json.Unmarshal(raw, &pol); err != nil || pol.ID == nil {
				fail("policy: want an object with an integer id")
				continue
			}
			var keys map[string]json.RawMessage
			json.Unmarshal(raw, &keys)
			for k := range keys {
				switch k {
				case "id", "name", "root", "default_marker":
				default:
					warns = append(warns, fmt.Sprintf("%s:%d: policy key %q ignored by the stand-in policy engine", path, line, k))
				}
			}
		}
		if raw, ok := obj["pool"]; ok {
			var pool struct {
				ID   int      `json:"id"`
				Name string   `json:"name"`
				IP   []string `json:"ip"`
			}
			if err := json.Unmarshal(raw, &pool); err != nil {
				fail("pool: %v", err)
				continue
			}
			if pol.ID == nil {
				fail("pool %d: no policy id beside it", pool.ID)
				continue
			}
			p := standinPool{id: pool.ID, name: pool.Name, policy: *pol.ID}
			for _, a := range pool.IP {
				pfx, err := netip.ParsePrefix(a)
				if err != nil {
					addr, err2 := netip.ParseAddr(a)
					if err2 != nil {
						fail("pool %d: address %q: want an address or CIDR", pool.ID, a)
						continue
					}
					pfx = netip.PrefixFrom(addr, addr.BitLen())
				}
				p.nets = append(p.nets, pfx.Masked())
			}
			s.pools = append(s.pools, p)
			continue
		}
		if pol.ID == nil {
			fail("line is neither a pool nor a policy")
			continue
		}
		if _, dup := s.policies[*pol.ID]; dup {
			fail("policy %d defined twice", *pol.ID)
			continue
		}
		sp := standinPolicy{id: *pol.ID, name: pol.Name, root: pol.Root}
		if len(pol.DefaultMarker) > 0 {
			d, err := parseMarker(pol.DefaultMarker)
			if err != nil {
				fail("policy %d: default_marker: %v", *pol.ID, err)
				continue
			}
			sp.marker = &d
		}
		s.policies[*pol.ID] = sp
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", path, err))
	}
	for _, p := range s.policies {
		seen := map[int]bool{p.id: true}
		for q := p; q.root != nil && *q.root != q.id; {
			r, ok := s.policies[*q.root]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: policy %d: root %d is not defined", path, q.id, *q.root))
				break
			}
			if seen[r.id] {
				errs = append(errs, fmt.Errorf("%s: policy %d: the root chain loops", path, p.id))
				break
			}
			seen[r.id] = true
			q = r
		}
	}
	for _, p := range s.pools {
		if _, ok := s.policies[p.policy]; !ok && p.policy != 0 {
			errs = append(errs, fmt.Errorf("%s: pool %d: policy %d is not defined", path, p.id, p.policy))
		}
	}
	if len(errs) > 0 {
		return nil, warns, errors.Join(errs...)
	}
	// Explanations are built once here, never per packet.
	for id, p := range s.policies {
		d, chain := s.effective(id)
		p.explain = fmt.Sprintf("policy %d%s: default_marker → %s", id, chain, d.Action)
		s.policies[id] = p
	}
	sort.Slice(s.pools, func(i, j int) bool { return s.pools[i].id < s.pools[j].id })
	return s, warns, nil
}

// effective finds the default marker a policy inherits and the chain it
// came through.
func (s *standinSet) effective(id int) (verdict.Decision, string) {
	var chain []string
	p, ok := s.policies[id]
	for i := 0; ok && i < 64; i++ {
		if p.marker != nil {
			d := *p.marker
			d.PolicyID = int32(id)
			return d, chainText(chain)
		}
		if p.root == nil || *p.root == p.id {
			break
		}
		chain = append(chain, strconv.Itoa(*p.root))
		p, ok = s.policies[*p.root]
	}
	return verdict.Decision{Action: verdict.Pass, Final: true, PolicyID: int32(id)}, chainText(chain)
}

func chainText(chain []string) string {
	if len(chain) == 0 {
		return ""
	}
	return " (⊂ " + strings.Join(chain, " ⊂ ") + ")"
}

// decide gives the decision for a LAN host: longest prefix wins, no pool
// means policy 0.
func (s *standinSet) decide(host netip.Addr) verdict.Decision {
	best, bits, pool := 0, -1, ""
	for _, p := range s.pools {
		for _, n := range p.nets {
			if n.Contains(host) && n.Bits() > bits {
				best, bits, pool = p.policy, n.Bits(), p.name
			}
		}
	}
	d, _ := s.effective(best)
	d.Pool = pool
	if p, ok := s.policies[best]; ok {
		d.Chain = p.explain
	}
	return d
}

type standinKey struct {
	proto    uint8
	src, dst netip.AddrPort
}

type standinFlow struct {
	tuple verdict.Tuple
	host  netip.Addr
	d     verdict.Decision
	last  int64
}

// standinDecider is one queue's decider: flows by tuple, decided at their
// first packet.
type standinDecider struct {
	b     *standinBrain
	flows map[standinKey]*standinFlow
}

func parseTuple(b []byte) (standinKey, bool) {
	var k standinKey
	var l4 []byte
	var src, dst netip.Addr
	switch {
	case len(b) >= 20 && b[0]>>4 == 4:
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return k, false
		}
		k.proto = b[9]
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		l4 = b[ihl:]
	case len(b) >= 40 && b[0]>>4 == 6:
		k.proto = b[6]
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		l4 = b[40:]
	default:
		return k, false
	}
	var sp, dp uint16
	if (k.proto == 6 || k.proto == 17 || k.proto == 132) && len(l4) >= 4 {
		sp, dp = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
	}
	k.src, k.dst = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
	return k, true
}

func (d *standinDecider) Decide(p *verdict.Packet) verdict.Decision {
	k, ok := parseTuple(p.Data)
	if !ok {
		return verdict.Decision{}
	}
	f := d.flows[k]
	if f == nil {
		f = d.flows[standinKey{k.proto, k.dst, k.src}]
	}
	if f == nil {
		host := k.src.Addr()
		if p.From == verdict.SideWAN {
			host = k.dst.Addr()
		}
		f = &standinFlow{tuple: verdict.Tuple{Proto: k.proto, Src: k.src, Dst: k.dst}, host: host}
		f.d = d.b.set.Load().decide(host)
		d.flows[k] = f
		d.b.ev.standin("decided", f)
	}
	f.last = p.Time
	return f.d
}

func (d *standinDecider) Revise(changed func(verdict.Tuple, verdict.Decision)) {
	s := d.b.set.Load()
	for _, f := range d.flows {
		nd := s.decide(f.host)
		if nd.Action != f.d.Action || nd.Class != f.d.Class {
			f.d = nd
			changed(f.tuple, nd)
			d.b.ev.standin("decided", f)
		}
	}
}

// Expire ends flows idle for two minutes (longer than conntrack keeps an
// unreplied UDP flow, shorter than an idle established TCP one: a TCP
// flow that wakes up again is already decided in the kernel).
func (d *standinDecider) Expire(now int64) {
	for k, f := range d.flows {
		if now-f.last > int64(2*time.Minute) {
			d.b.ev.standin("ended", f)
			delete(d.flows, k)
		}
	}
}

func (d *standinDecider) Flush() {
	for k, f := range d.flows {
		d.b.ev.standin("ended", f)
		delete(d.flows, k)
	}
}
