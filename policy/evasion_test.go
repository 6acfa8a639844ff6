package policy

import (
	"fmt"
	"strings"
	"testing"

	"ips/internal/tcpcraft"
	"ips/verdict"
)

// TestWorkerStreamTricks runs every trick class through a worker as the
// queue hands packets over (checksums flagged unverified, as the kernel
// flags crafted packets), with a policy that blocks one name: the blocked
// name is dropped (the first final decision is a drop), the allowed name
// never is, whatever decoy is thrown in.
func TestWorkerStreamTricks(t *testing.T) {
	const blocked, allowed = "blocked.example", "allowed.example"
	s := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass",
	  "markers": {"hostnames": {"blocked.example": "drop"}}}]}`, LoadOptions{})
	for _, proto := range []struct {
		name, port string
		msg        func(string) []byte
	}{
		{"TLS", "443", func(h string) []byte { return tcpcraft.ClientHello(h, 0) }},
		{"HTTP", "80", tcpcraft.HTTPRequest},
	} {
		for _, tr := range tcpcraft.Tricks {
			for _, names := range [][2]string{{blocked, allowed}, {allowed, blocked}} {
				real, decoy := names[0], names[1]
				t.Run(fmt.Sprintf("%s/%s/%s", proto.name, tr.Name, real), func(t *testing.T) {
					c := tcpcraft.New("192.168.1.10:40000", "198.51.100.7:"+proto.port)
					first := runTrick(t, s, tr.Packets(c, proto.msg(real), proto.msg(decoy)))
					switch {
					case real == blocked && (first == nil || first.Action != verdict.Drop):
						t.Errorf("blocked name: first final decision %v, want drop", first)
					case real == allowed && first != nil && first.Action != verdict.Pass:
						t.Errorf("allowed name: final decision %v (%s)", first.Action, first.Explain())
					}
				})
			}
		}
	}
}

// runTrick sends pkts through a fresh worker and returns its first final
// decision (nil: none before the flow ended).
func runTrick(t *testing.T, s *Set, pkts [][]byte) *verdict.Decision {
	t.Helper()
	r := newRig(t, s, WorkerConfig{})
	for _, b := range pkts {
		from := verdict.SideWAN
		if b[0]>>4 == 4 && b[12] == 192 || b[0]>>4 == 6 {
			from = verdict.SideLAN // the client, 192.168.1.10
		}
		r.now += 1e6
		d := r.w.Decide(&verdict.Packet{Data: b, Time: r.now, From: from, ChecksumUnverified: true})
		if d.Final {
			return &d
		}
	}
	r.w.Flush()
	if len(r.ended) == 1 && r.ended[0].Final {
		return &r.ended[0]
	}
	return nil
}

// TestWorkerUninspectableKnob: a ClientHello whose first byte never comes
// (held until the budget runs out) passes by default, flagged, and is
// dropped with "on_uninspectable": "drop".
func TestWorkerUninspectableKnob(t *testing.T) {
	ch := tcpcraft.ClientHello("blocked.example", 0)
	c := tcpcraft.New("192.168.1.10:40000", "198.51.100.7:443")
	pkts := c.Handshake()
	for range 12 {
		pkts = append(pkts, c.Build(c.Data(tcpcraft.ToServer, 1, ch[1:])))
	}
	const doc = `{"version": 1, %s"policies": [{"id": 0, "default_marker": "pass"}]}`
	for _, tc := range []struct {
		opt  string
		want verdict.Action
	}{{"", verdict.Pass}, {`"on_uninspectable": "drop", `, verdict.Drop}} {
		s := mustParse(t, strings.Replace(doc, "%s", tc.opt, 1), LoadOptions{})
		d := runTrick(t, s, pkts)
		if d == nil || d.Action != tc.want {
			t.Errorf("%q: decision %v, want %v", tc.opt, d, tc.want)
		}
	}
}
