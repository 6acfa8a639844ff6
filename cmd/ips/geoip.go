package main

import (
	"fmt"

	"ips/pools"
)

// geoipLines describes the GeoIP databases a policy loaded, one line
// each, as ips check prints them and ips run logs them: which layout was
// read from which fields, so a database whose countries ips cannot see
// is noticed before a rule silently never matches.
func geoipLines(g *pools.Geo) []string {
	var out []string
	for _, l := range g.Layouts() {
		out = append(out, fmt.Sprintf("geoip: %s: %s; serves %s", l.File, l, l.Serves))
	}
	return out
}
