//go:build linux

package harness

import (
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
)

// Topology is LAN host ── bridge host ── WAN host:
//
//	ns LAN: eth0 10.77.0.2-4/24, fd77::2-4/64
//	ns BR:  br0 (10.77.0.1/24, fd77::1/64) with ports lan0 (peer of LAN's
//	        eth0) and wan0 (peer of WAN's eth0), br_netfilter's
//	        call-iptables/ip6tables on
//	ns WAN: eth0 10.77.0.200/24, fd77::200/64
//
// One L2 segment across the bridge: traffic between the hosts crosses the
// bridge's forward hook and never leaves the namespaces.
type Topology struct {
	LAN, Bridge, WAN NS
	// Bridge ports in the bridge namespace.
	LANPort, WANPort string
	// LANAddrs are the LAN host's addresses (first IPv4 ones, then IPv6),
	// so tests can give flows from different hosts different policies.
	LANAddrs []netip.Addr
	WANAddr  netip.Addr
	WANAddr6 netip.Addr
}

var topoSeq atomic.Int32

// NewTopology builds the three namespaces and removes them when the test
// ends.
func NewTopology(t testing.TB) *Topology {
	t.Helper()
	RequireRoot(t)
	prefix := fmt.Sprintf("ipst%d-%d", os.Getpid()%100000, topoSeq.Add(1))
	topo := &Topology{LANPort: "lan0", WANPort: "wan0",
		WANAddr: netip.MustParseAddr("10.77.0.200"), WANAddr6: netip.MustParseAddr("fd77::200")}
	for _, a := range []string{"10.77.0.2", "10.77.0.3", "10.77.0.4", "fd77::2", "fd77::3", "fd77::4"} {
		topo.LANAddrs = append(topo.LANAddrs, netip.MustParseAddr(a))
	}
	var err error
	cleanup := func() {
		for _, ns := range []NS{topo.LAN, topo.Bridge, topo.WAN} {
			if ns.Name != "" {
				_ = ns.remove()
			}
		}
	}
	t.Cleanup(cleanup)
	if topo.LAN, err = newNS(prefix + "-lan"); err != nil {
		t.Fatal(err)
	}
	if topo.Bridge, err = newNS(prefix + "-br"); err != nil {
		t.Fatal(err)
	}
	if topo.WAN, err = newNS(prefix + "-wan"); err != nil {
		t.Fatal(err)
	}
	br, lan, wan := topo.Bridge.Name, topo.LAN.Name, topo.WAN.Name
	steps := [][]string{
		{"ip", "-n", br, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0"},
		{"ip", "-n", br, "link", "add", topo.LANPort, "type", "veth", "peer", "name", "eth0", "netns", lan},
		{"ip", "-n", br, "link", "add", topo.WANPort, "type", "veth", "peer", "name", "eth0", "netns", wan},
		{"ip", "-n", br, "link", "set", topo.LANPort, "master", "br0", "up"},
		{"ip", "-n", br, "link", "set", topo.WANPort, "master", "br0", "up"},
		{"ip", "-n", br, "link", "set", "br0", "up"},
		// The bridge host's own address: a TCP reset or ICMP error the
		// kernel sends for a rejected bridged flow is routed first (then
		// sent out of the port the flow came in on), so it needs a route
		// towards the hosts.
		{"ip", "-n", br, "addr", "add", "10.77.0.1/24", "dev", "br0"},
		{"ip", "-n", br, "addr", "add", "fd77::1/64", "dev", "br0", "nodad"},
		{"ip", "netns", "exec", br, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"},
		{"ip", "netns", "exec", br, "sysctl", "-qw", "net.bridge.bridge-nf-call-ip6tables=1"},
		{"ip", "-n", wan, "addr", "add", "10.77.0.200/24", "dev", "eth0"},
		{"ip", "-n", wan, "addr", "add", "fd77::200/64", "dev", "eth0", "nodad"},
		{"ip", "-n", wan, "link", "set", "eth0", "up"},
		{"ip", "-n", lan, "link", "set", "eth0", "up"},
	}
	for _, a := range topo.LANAddrs {
		plen := "/24"
		extra := []string{}
		if a.Is6() {
			plen, extra = "/64", []string{"nodad"}
		}
		steps = append(steps, append([]string{"ip", "-n", lan, "addr", "add", a.String() + plen, "dev", "eth0"}, extra...))
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	// Static neighbours: no ARP/ND round trip in the first packet's
	// latency, and no neighbour traffic in queue counts.
	lanMAC := mac(t, topo.LAN)
	wanMAC := mac(t, topo.WAN)
	for _, a := range topo.LANAddrs {
		if err := run("ip", "-n", wan, "neigh", "replace", a.String(), "lladdr", lanMAC, "dev", "eth0", "nud", "permanent"); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []netip.Addr{topo.WANAddr, topo.WANAddr6} {
		if err := run("ip", "-n", lan, "neigh", "replace", a.String(), "lladdr", wanMAC, "dev", "eth0", "nud", "permanent"); err != nil {
			t.Fatal(err)
		}
	}
	return topo
}

func mac(t testing.TB, ns NS) string {
	t.Helper()
	b, err := ns.Run("cat", "/sys/class/net/eth0/address")
	if err != nil {
		t.Fatal(err)
	}
	return string(trimSpace([]byte(b)))
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// LAN4 is the LAN host's i-th IPv4 address.
func (t *Topology) LAN4(i int) netip.Addr { return t.LANAddrs[i] }
