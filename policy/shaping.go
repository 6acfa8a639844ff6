package policy

import (
	"slices"

	"ips/verdict"
)

// ShapePlan is what shaping needs from the policy: its shapers and the
// address prefixes of its pools (MAC entries cannot be matched where
// packets are classified for shaping, on the ports' egress; a host in a
// pool by MAC only is shaped by its shaper's own class).
func (s *Set) ShapePlan() verdict.ShapePlan {
	var p verdict.ShapePlan
	if s == nil {
		return p
	}
	for _, sh := range s.shapers {
		p.Shapers = append(p.Shapers, verdict.ShaperSpec{Name: sh.Name, Class: sh.Class, Rate: sh.Rate, Ceil: sh.Ceil, Per: sh.Per})
	}
	for _, pi := range s.poolInfo {
		p.Pools = append(p.Pools, verdict.PoolSpec{Name: pi.label, Prefixes: slices.Clone(pi.prefixes)})
	}
	return p
}

// ParseRate reads a rate as shapers write it (tc's units: "10mbit",
// "1gbit", "125kbps"; a bare number is bits per second) in bits per
// second.
func ParseRate(s string) (uint64, error) { return parseRate(s) }

// ShaperOf names the shaper of a shape decision's class ("" when none).
func (s *Set) ShaperOf(d verdict.Decision) string {
	if s == nil || d.Action != verdict.Shape {
		return ""
	}
	for _, sh := range s.shapers {
		if sh.Class == d.Class {
			return sh.Name
		}
	}
	return ""
}
