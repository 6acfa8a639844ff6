//go:build linux

package e2e

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ips/test/harness"
)

// Through the daemon: a DNS "answer" sent from the LAN that answers no
// query names nothing, so a later nameless flow to the address it gives
// is not judged by that name; the real answer to a real query does name
// it. The policy drops blocked.example; the flows are plain TCP echoes
// (no SNI, no Host), named only by what DNS taught, once inspection gives
// up on them.
func TestDNSForgedAnswerThroughDaemon(t *testing.T) {
	topo := harness.NewTopology(t)
	apps := topo.StartApps(t)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	// The LAN host 10.77.0.2 may not reach blocked.example; 10.77.0.3 (the
	// one that asks DNS, and forges) may, so its DNS flows pass. The name
	// cache is shared: what .3 is told names .2's flows.
	lan, other := topo.LAN4(0), topo.LAN4(1)
	// The root policy passes everything, so it could decide the DNS
	// flows on their query: they are still kept queued for the answer.
	if err := harness.WriteFile(pol, `{"policy": {"id": 0, "name": "root", "default_marker": "pass"}}
{"pool": {"id": 1, "name": "kid", "ip": ["`+lan.String()+`/32"]}, "policy": {"id": 1}}
{"policy": {"id": 1, "name": "kid", "root": 0, "default_marker": "pass", "markers": {"hostnames": {"blocked.example": "drop"}}}}
`); err != nil {
		t.Fatal(err)
	}
	d := topo.StartDaemon(t, dir, "--policy", pol, "--log-level", "info")
	echo := topo.WANAddr.String() + ":8080"

	// The forgery: from the LAN host's port 53 to the WAN host, a
	// response claiming blocked.example is the WAN host's address.
	pc := topo.LAN.ListenPacket(t, "udp", netip.AddrPortFrom(other, 53).String())
	defer pc.Close()
	if _, err := pc.WriteTo(dnsAResponse(0x5151, "blocked.example", topo.WANAddr), &net.UDPAddr{IP: topo.WANAddr.AsSlice(), Port: 40000}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n, err := echoRounds(topo.LAN, lan, echo, 16); err != nil {
		t.Fatalf("after the forged answer, a nameless flow to %s was cut after %d exchanges (%v): the forgery named it", topo.WANAddr, n, err)
	}

	// The real thing: a LAN host asks the WAN host's DNS server.
	addrs, err := apps.Resolve(topo.LAN, other, "blocked.example", 2*time.Second)
	if err != nil || len(addrs) != 1 || addrs[0] != topo.WANAddr {
		t.Fatalf("resolve: %v %v", addrs, err)
	}
	if n, err := echoRounds(topo.LAN, lan, echo, 16); err == nil {
		t.Fatalf("after the real answer, a nameless flow to %s got through %d exchanges: the answer named nothing", topo.WANAddr, n)
	} else {
		t.Logf("after the real answer the flow was dropped after %d exchanges (%v)", n, err)
	}
	if !d.Running() {
		t.Fatal("ips exited")
	}
	if l := d.Log(); strings.Contains(l, "panic") {
		t.Fatalf("ips log:\n%s", l)
	}
}

// echoRounds opens one TCP connection and runs n echo exchanges on it,
// returning how many completed.
func echoRounds(ns harness.NS, local netip.Addr, addr string, n int) (int, error) {
	c, err := ns.Dial("tcp", local, addr, 2*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	msg := []byte("0123456789abcdef")
	got := make([]byte, len(msg))
	for i := range n {
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(msg); err != nil {
			return i, err
		}
		if _, err := io.ReadFull(c, got); err != nil {
			return i, err
		}
	}
	return n, nil
}

// dnsAResponse is a DNS response (RFC 1035 §4.1) for name's A record.
func dnsAResponse(id uint16, name string, a netip.Addr) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0)
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	b = append(b, 0, 0, 1, 0, 1)
	a4 := a.As4()
	b = append(b, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
	return append(b, a4[:]...)
}
