//go:build linux

package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ips/test/harness"
)

// Through the daemon, with a policy that decides DNS on the query (no
// rule can change a pass once the query is seen): the DNS flows are
// still kept queued until their answer, so the answer teaches the name
// cache, and a later TLS connection without SNI to the answered address
// is judged by the learned name. 10.77.0.3 resolves blocked.example (its
// policy passes everything; the cache is shared), then the kid 10.77.0.2
// connects to that address with TLS and no SNI: dropped. The kid then
// resolves allowed.example itself (the test DNS server gives every name
// the same address): the same nameless TLS connection works.
func TestDNSLearnedNameThroughDaemon(t *testing.T) {
	topo := harness.NewTopology(t)
	apps := topo.StartApps(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	kid, other := topo.LAN4(0), topo.LAN4(1)
	if err := harness.WriteFile(pol, `{"policy": {"id": 0, "name": "root", "default_marker": "pass"}}
{"pool": {"id": 1, "name": "kid", "ip": ["`+kid.String()+`/32"]}, "policy": {"id": 1}}
{"policy": {"id": 1, "name": "kid", "root": 0, "default_marker": "pass", "markers": {"hostnames": {"blocked.example": "drop"}}}}
`); err != nil {
		t.Fatal(err)
	}
	d := topo.StartDaemon(t, dir, "--policy", pol, "--log-level", "info")
	tlsAddr := apps.HTTPS.String()

	// Before any DNS: nothing names the address, the connection works.
	if err := tlsNoSNI(topo.LAN, kid, tlsAddr); err != nil {
		t.Fatalf("nameless TLS before any DNS answer: %v", err)
	}
	resolve := func(from netip.Addr, name string) {
		t.Helper()
		addrs, err := apps.Resolve(topo.LAN, from, name, 2*time.Second)
		if err != nil || len(addrs) != 1 || addrs[0] != topo.WANAddr {
			t.Fatalf("resolve %s from %s: %v %v", name, from, addrs, err)
		}
	}
	resolve(other, "blocked.example")
	if err := tlsNoSNI(topo.LAN, kid, tlsAddr); err == nil {
		t.Fatalf("after %s resolved blocked.example to %s, a TLS connection without SNI from %s to it got through: the answer taught nothing", other, topo.WANAddr, kid)
	} else {
		t.Logf("nameless TLS to blocked.example's address dropped: %v", err)
	}
	resolve(kid, "allowed.example")
	if err := tlsNoSNI(topo.LAN, kid, tlsAddr); err != nil {
		t.Fatalf("after resolving allowed.example, nameless TLS to its address: %v", err)
	}
	st := daemonStatus(t, d.Control)
	if st.Flows.DNSHeld < 2 {
		t.Errorf("status dns_held %d, want ≥ 2 (two resolutions, each held for its answer)", st.Flows.DNSHeld)
	}
	t.Logf("DNS flows held for their answer: %d", st.Flows.DNSHeld)
	if !d.Running() {
		t.Fatal("ips exited")
	}
	if l := d.Log(); strings.Contains(l, "panic") {
		t.Fatalf("ips log:\n%s", l)
	}
}

// tlsNoSNI runs a TLS handshake without server name (Go sends no SNI
// when ServerName is empty) and one HTTP request over it.
func tlsNoSNI(ns harness.NS, local netip.Addr, addr string) error {
	raw, err := ns.Dial("tcp", local, addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(2 * time.Second))
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true}) // no name to verify against: the test is about SNI, not trust
	if err := c.Handshake(); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	b, err := io.ReadAll(c)
	if err != nil && len(b) == 0 {
		return err
	}
	if !strings.HasPrefix(string(b), "HTTP/1.0 200") {
		return fmt.Errorf("response %q", b)
	}
	return nil
}

// daemonStatus asks the control socket for "status".
func daemonStatus(t *testing.T, control string) (s struct {
	Flows struct {
		DNSHeld uint64 `json:"dns_held"`
	} `json:"flows"`
}) {
	t.Helper()
	c, err := net.Dial("unix", control)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "status")
	if err := json.NewDecoder(c).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
