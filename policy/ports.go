package policy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Ports and IP protocols by number: the "ports" table. A key names an L4
// protocol and a range of the flow's server (responder) port:
//
//	tcp/22  udp/27000-27050  sctp/*  ipproto/47
//
// Internally a key is the closed range [proto<<16|lo, proto<<16|hi] of
// 24-bit points, so that every protocol's ranges live in one sorted slice
// and a lookup is one binary search. A protocol without ports (ipproto/N
// for N other than tcp, udp and sctp) matches the whole range: its flows
// have server port 0.

// portProtos are the L4 protocols whose flows ips keys by port.
var portProtos = []struct {
	name  string
	proto uint8
}{{"tcp", 6}, {"udp", 17}, {"sctp", 132}}

func portProtoNames() []string {
	out := []string{"ipproto"}
	for _, p := range portProtos {
		out = append(out, p.name)
	}
	return out
}

// portRange is one merged entry of a policy's ports table.
type portRange struct {
	lo, hi uint32 // proto<<16 | port, inclusive
	rule   uint32
}

// parsePortKey reads a ports key; canon is its canonical spelling.
func parsePortKey(k string) (lo, hi uint32, canon string, err error) {
	name, spec, ok := strings.Cut(strings.ToLower(strings.TrimSpace(k)), "/")
	if !ok {
		return 0, 0, "", fmt.Errorf("bad ports key %q: want PROTO/PORT, PROTO/LOW-HIGH or PROTO/* (PROTO tcp, udp or sctp), or ipproto/N", k)
	}
	if name == "ipproto" {
		n, err := strconv.ParseUint(spec, 10, 8)
		if err != nil {
			return 0, 0, "", fmt.Errorf("bad ports key %q: an IP protocol number is 0-255", k)
		}
		for _, p := range portProtos {
			if uint64(p.proto) == n {
				// The same key as "tcp/*": one spelling for one range.
				return uint32(n) << 16, uint32(n)<<16 | 0xffff, p.name + "/*", nil
			}
		}
		return uint32(n) << 16, uint32(n)<<16 | 0xffff, "ipproto/" + strconv.FormatUint(n, 10), nil
	}
	var proto uint8
	for _, p := range portProtos {
		if p.name == name {
			proto = p.proto
		}
	}
	if proto == 0 {
		return 0, 0, "", fmt.Errorf("unknown protocol %q in ports key %q%s (other IP protocols: ipproto/N)", name, k, suggest(name, portProtoNames()))
	}
	base := uint32(proto) << 16
	if spec == "*" {
		return base, base | 0xffff, name + "/*", nil
	}
	a, b, isRange := strings.Cut(spec, "-")
	plo, err := parsePort(a, k)
	if err != nil {
		return 0, 0, "", err
	}
	phi := plo
	if isRange {
		if phi, err = parsePort(b, k); err != nil {
			return 0, 0, "", err
		}
		if phi < plo {
			return 0, 0, "", fmt.Errorf("bad ports key %q: the range is reversed (did you mean %s/%d-%d?)", k, name, phi, plo)
		}
	}
	canon = name + "/" + strconv.Itoa(int(plo))
	if phi != plo {
		canon += "-" + strconv.Itoa(int(phi))
	}
	return base | plo, base | phi, canon, nil
}

func parsePort(s, k string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > 65535 {
		return 0, fmt.Errorf("bad ports key %q: a port is a number 0-65535, not %q", k, s)
	}
	return uint32(n), nil
}

// mergePorts overlays the ports tables of a chain (nearest first): each
// point gets the range of the nearest policy that covers it. Each
// level's ranges are sorted and do not overlap (checked when compiled).
func mergePorts(levels [][]portRange) []portRange {
	var cuts []uint32
	for _, l := range levels {
		for _, r := range l {
			cuts = append(cuts, r.lo, r.hi+1)
		}
	}
	if len(cuts) == 0 {
		return nil
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i] < cuts[j] })
	var out []portRange
	for i := 0; i+1 < len(cuts); i++ {
		lo, hi := cuts[i], cuts[i+1]-1
		if cuts[i+1] == cuts[i] {
			continue
		}
		var ri uint32
		for _, l := range levels {
			if ri = lookupPorts(l, lo); ri != 0 {
				break
			}
		}
		if ri == 0 {
			continue
		}
		if n := len(out); n > 0 && out[n-1].rule == ri && out[n-1].hi+1 == lo {
			out[n-1].hi = hi
			continue
		}
		out = append(out, portRange{lo, hi, ri})
	}
	return out
}

// lookupPorts finds the range holding point k (proto<<16|port): a binary
// search, allocation-free.
func lookupPorts(rs []portRange, k uint32) uint32 {
	i, j := 0, len(rs)
	for i < j {
		m := int(uint(i+j) >> 1)
		if rs[m].hi < k {
			i = m + 1
		} else {
			j = m
		}
	}
	if i < len(rs) && rs[i].lo <= k {
		return rs[i].rule
	}
	return 0
}
