package e2e

import (
	"path/filepath"
	"testing"

	"ips/test/harness"
)

// TestPortsEndToEnd: ports rules through the whole stack — the BitTorrent
// peer's TCP port and UDP 443 (QUIC) are dropped by number, decided on
// their first packet since no rule above the ports level could say
// otherwise; HTTPS (TCP 443) and DNS pass.
func TestPortsEndToEnd(t *testing.T) {
	topo := harness.NewTopology(t)
	apps := topo.StartApps(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.json")
	if err := harness.WriteFile(pol, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass",
	  "markers": {"ports": {"tcp/6881-6889": "drop", "udp/443": "drop", "tcp/22": "drop"}}}]}`); err != nil {
		t.Fatal(err)
	}
	topo.StartDaemon(t, dir, "--policy", pol)
	checkApps(t, topo, apps, map[string]bool{
		"quic allowed.example": true, "quic blocked.example": true, "bittorrent": true})
}
