package policy

import (
	"fmt"
	"math/bits"
	"net/netip"
	"strings"
	"sync"

	"ips/dpi"
	"ips/pools"
)

// Risk exceptions: "risk_exceptions" (global, one list for the whole
// file, as nDPI's host and IP risk masks are global) says, for hosts,
// prefixes and hostnames, which flow risks do not count:
//
//	"risk_exceptions": [{"hosts": ["10.0.0.5", "192.168.1.0/24", "*.printer.lan"],
//	                     "risks": ["TLS_SELFSIGNED_CERTIFICATE"]}]
//
// An address or prefix matches either end of the flow (a LAN printer with
// a self-signed certificate is a server; a LAN client reaching a known
// server is a client); a hostname pattern matches the flow's server name.
// An excepted risk is removed from the flow's risks before the policy is
// judged: listed risks no longer match it and its score no longer counts.

const (
	maxRiskExceptions = 64   // one bit each in Host.excAddr
	maxRiskExcEntries = 1024 // hosts of all exceptions: bounds the scans
	maxExcTexts       = 4096 // cached explanations with exceptions
	excInText         = 4    // exceptions named per explanation
)

type sriskExc struct {
	off          int
	hosts, risks []sval
}

type riskExc struct {
	mask dpi.RiskSet
}

type excEntry struct {
	exc  uint8
	pfx  netip.Prefix // an address entry, or
	host string       // a hostname pattern
	kind pools.HostKind
	text string // as the explanation writes it
}

// excState is the Set's cache of explanations with exceptions.
type excState struct {
	mu    sync.RWMutex
	texts map[excKey]string
}

type excKey struct {
	rule    string
	removed dpi.RiskSet
	ent     [excInText]uint16 // entry index + 1 of each exception applied
}

var riskExcKeys = []string{"hosts", "risks", "description"}

// riskExceptions reads the "risk_exceptions" array (both formats).
func (r *reader) riskExceptions(n *jnode, src *source) {
	r.list(n, "risk_exceptions", func(e *jnode) {
		mems, ok := r.members(e, "a risk exception", true)
		if !ok {
			return
		}
		x := sriskExc{off: e.off}
		for _, m := range mems {
			switch m.key {
			case "hosts":
				x.hosts = append(x.hosts, r.strList(m.val, "risk_exceptions.hosts")...)
			case "risks":
				x.risks = append(x.risks, r.keyList(m.val, "risk_exceptions.risks")...)
			case "description":
				r.str(m.val, "risk exception description")
			default:
				r.unknown(m, "a risk exception", riskExcKeys)
			}
		}
		src.riskExc = append(src.riskExc, x)
	})
}

func (c *compiler) riskExceptions() {
	s := c.set
	if len(c.src.riskExc) > maxRiskExceptions {
		c.errorf(c.src.riskExc[maxRiskExceptions].off, "more than %d risk exceptions; merge those with the same risks", maxRiskExceptions)
		return
	}
	for i, x := range c.src.riskExc {
		var mask dpi.RiskSet
		var names []string
		for _, k := range x.risks {
			id, ok := dpi.RiskByName(strings.TrimSpace(k.s))
			if !ok || id == 0 {
				c.errorf(k.off, "risk exception %d: unknown flow risk %q%s", i+1, k.s, suggest(k.s, riskCandidates()))
				continue
			}
			mask = mask.With(id)
			names = append(names, strings.TrimPrefix(id.Enum(), "NDPI_"))
		}
		if len(x.risks) == 0 {
			c.errorf(x.off, "risk exception %d has no \"risks\"", i+1)
		}
		if len(x.hosts) == 0 {
			c.errorf(x.off, "risk exception %d has no \"hosts\" (addresses, prefixes or hostnames)", i+1)
		}
		s.excs = append(s.excs, riskExc{mask: mask})
		c.excRisks = append(c.excRisks, names)
		hasName := false
		for _, h := range x.hosts {
			if len(s.excAddrs)+len(s.excNames) >= maxRiskExcEntries {
				c.errorf(h.off, "more than %d hosts in risk exceptions", maxRiskExcEntries)
				return
			}
			e := excEntry{exc: uint8(i)}
			v := strings.TrimSpace(h.s)
			if p, err := netip.ParsePrefix(v); err == nil {
				e.pfx = unmapPrefix(p)
			} else if a, err := netip.ParseAddr(v); err == nil {
				a = a.Unmap()
				e.pfx = netip.PrefixFrom(a, a.BitLen())
			} else if strings.Contains(v, "/") || strings.Trim(v, "0123456789.") == "" {
				c.errorf(h.off, "risk exception %d: bad address or prefix %q", i+1, v)
				continue
			} else {
				name, kind, err := pools.ParseHostPattern(v)
				if err != nil {
					c.errorf(h.off, "risk exception %d: %v", i+1, err)
					continue
				}
				e.host, e.kind, e.text = name, kind, pools.FormatHost(name, kind)
				s.excNames = append(s.excNames, e)
				hasName = true
				continue
			}
			e.text = e.pfx.String()
			if e.pfx.IsSingleIP() {
				e.text = e.pfx.Addr().String()
			}
			s.excAddrs = append(s.excAddrs, e)
		}
		if hasName {
			s.excNameMask |= mask
		}
	}
	if len(s.excs) > 0 {
		s.exc = &excState{texts: map[excKey]string{}}
	}
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return p.Masked()
}

// excAddrMask: the exceptions one of whose addresses or prefixes holds
// either end of the flow (once per flow, at Resolve).
func (s *Set) excAddrMask(local, remote netip.Addr) uint64 {
	var m uint64
	local, remote = local.Unmap(), remote.Unmap()
	for i := range s.excAddrs {
		e := &s.excAddrs[i]
		if m&(1<<e.exc) == 0 && (e.pfx.Contains(local) || e.pfx.Contains(remote)) {
			m |= 1 << e.exc
		}
	}
	return m
}

// hostMatches reports whether pattern (name, kind) holds host; host
// compares case-insensitively and may end in a dot. It allocates nothing.
func hostMatches(name string, kind pools.HostKind, host string) bool {
	host = strings.TrimSuffix(host, ".")
	switch kind {
	case pools.Exact:
		return strings.EqualFold(host, name)
	case pools.Domain:
		if strings.EqualFold(host, name) {
			return true
		}
	}
	return len(host) > len(name) && host[len(host)-len(name)-1] == '.' && strings.EqualFold(host[len(host)-len(name):], name)
}

// excepted returns the exceptions that apply to the flow and the risks
// they remove from its risks.
func (s *Set) excepted(h *Host, r *dpi.Result) (uint64, dpi.RiskSet) {
	m := h.excAddr
	if r.Hostname != "" && r.Risks&s.excNameMask != 0 {
		for i := range s.excNames {
			e := &s.excNames[i]
			if m&(1<<e.exc) == 0 && hostMatches(e.host, e.kind, r.Hostname) {
				m |= 1 << e.exc
			}
		}
	}
	var mask dpi.RiskSet
	for v := m; v != 0; v &= v - 1 {
		mask |= s.excs[bits.TrailingZeros64(v)].mask
	}
	return m, r.Risks & mask
}

// exceptText is rule text with the exceptions that removed the flow's
// risks, built once per (text, risks, entries) and cached; past
// maxExcTexts distinct ones the rule text is returned alone.
func (s *Set) exceptText(text string, h *Host, r *dpi.Result, m uint64, removed dpi.RiskSet) string {
	k := excKey{rule: text, removed: removed}
	n := 0
	for v := m; v != 0 && n < excInText; v &= v - 1 {
		i := bits.TrailingZeros64(v)
		if s.excs[i].mask&removed == 0 {
			continue
		}
		k.ent[n] = uint16(s.excEntryFor(uint8(i), h, r) + 1)
		n++
	}
	x := s.exc
	x.mu.RLock()
	t, ok := x.texts[k]
	x.mu.RUnlock()
	if ok {
		return t
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if t, ok := x.texts[k]; ok {
		return t
	}
	if len(x.texts) >= maxExcTexts {
		return text
	}
	var b strings.Builder
	b.WriteString(text)
	left := removed
	for _, ei := range k.ent {
		if ei == 0 {
			break
		}
		e := s.entry(int(ei - 1))
		mine := left & s.excs[e.exc].mask
		left &^= mine
		var names []string
		for v := uint64(mine); v != 0; v &= v - 1 {
			names = append(names, strings.TrimPrefix(dpi.RiskID(bits.TrailingZeros64(v)).Enum(), "NDPI_"))
		}
		word := "risk"
		if len(names) > 1 {
			word = "risks"
		}
		fmt.Fprintf(&b, "; %s %s excepted for %s (exception %d)", word, strings.Join(names, ", "), e.text, e.exc+1)
	}
	t = b.String()
	x.texts[k] = t
	return t
}

// excEntryFor finds the first entry of exception i that holds the flow:
// addresses first, then hostnames.
func (s *Set) excEntryFor(i uint8, h *Host, r *dpi.Result) int {
	local, remote := h.Local.Unmap(), h.Remote.Unmap()
	for j := range s.excAddrs {
		if e := &s.excAddrs[j]; e.exc == i && (e.pfx.Contains(local) || e.pfx.Contains(remote)) {
			return j
		}
	}
	for j := range s.excNames {
		if e := &s.excNames[j]; e.exc == i && hostMatches(e.host, e.kind, r.Hostname) {
			return len(s.excAddrs) + j
		}
	}
	return 0 // unreachable: the exception applied
}

func (s *Set) entry(j int) *excEntry {
	if j < len(s.excAddrs) {
		return &s.excAddrs[j]
	}
	return &s.excNames[j-len(s.excAddrs)]
}

// excCanon is the native form of exception i (for Convert).
func (c *compiler) excCanon(i int) (hosts []string, risks []string) {
	for _, e := range c.set.excAddrs {
		if int(e.exc) == i {
			hosts = append(hosts, e.text)
		}
	}
	for _, e := range c.set.excNames {
		if int(e.exc) == i {
			hosts = append(hosts, e.text)
		}
	}
	return hosts, c.excRisks[i]
}
