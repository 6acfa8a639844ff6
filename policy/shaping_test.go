package policy

import (
	"strings"
	"testing"

	"ips/verdict"
)

// A native policy's shapers and pools reach shaping: "per" (pool by
// default), the rates in bit/s, and each pool's address prefixes.
func TestShapePlan(t *testing.T) {
	s := mustParse(t, `{"version": 1,
 "shapers": [{"name": "bt", "rate": "4mbit"}, {"name": "all", "class": 5, "rate": "1mbit", "ceil": "2mbit", "per": "all"},
             {"name": "each", "rate": "500kbit", "per": "host"}],
 "pools": [{"id": 1, "name": "a", "ip": ["10.0.0.0/24", "fd00::/64"], "mac": ["aa:bb:cc:dd:ee:ff"], "policy": 0},
           {"id": 2, "name": "b", "ip": ["10.0.1.7"], "policy": 0}],
 "policies": [{"id": 0, "default_marker": "shape:bt", "markers": {"protocols": {"TLS": "5"}}}]}`, LoadOptions{})
	p := s.ShapePlan()
	want := []verdict.ShaperSpec{
		{Name: "bt", Class: 1, Rate: 4e6, Ceil: 4e6, Per: verdict.PerPool},
		{Name: "all", Class: 5, Rate: 1e6, Ceil: 2e6, Per: verdict.PerAll},
		{Name: "each", Class: 2, Rate: 5e5, Ceil: 5e5, Per: verdict.PerHost},
	}
	if len(p.Shapers) != len(want) {
		t.Fatalf("shapers %+v", p.Shapers)
	}
	for i := range want {
		if p.Shapers[i] != want[i] {
			t.Errorf("shaper %d: %+v, want %+v", i, p.Shapers[i], want[i])
		}
	}
	if len(p.Pools) != 2 || p.Pools[0].Name != "a" || len(p.Pools[0].Prefixes) != 2 || p.Pools[1].Prefixes[0].String() != "10.0.1.7/32" {
		t.Errorf("pools %+v", p.Pools)
	}
	if n := s.ShaperOf(verdict.Decision{Action: verdict.Shape, Class: 5}); n != "all" {
		t.Errorf("ShaperOf class 5 = %q (the nProbe integer marker 5 names shaper all)", n)
	}
}

func TestShaperPerErrors(t *testing.T) {
	_, rep, err := parse(t, "p.json", `{"version": 1, "shapers": [{"name": "x", "rate": "1mbit", "per": "subnet"}], "policies": [{"id": 0}]}`, LoadOptions{}, nil)
	if err == nil || !strings.Contains(diagnostics(err, rep), `per "subnet": want "pool", "all" or "host"`) {
		t.Errorf("bad per: %v", diagnostics(err, rep))
	}
}
