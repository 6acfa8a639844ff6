//go:build linux

package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ips/test/harness"
)

// The evasion suite (issue 9): the tricks public anti-censorship tools
// play on a DPI box (zapret's nfqws, GoodbyeDPI, ByeDPI; see
// ../shared/reference/evasion.md), each run by a real client (Go
// crypto/tls, raw HTTP/1.1) through ips on the bridge, for a blocked and
// an allowed name:
//
//   - blocked: the client asks for blocked.example with the trick; the
//     TLS handshake must not complete / no HTTP response may come back;
//   - allowed: the client asks for allowed.example with the same trick
//     (decoys then name blocked.example: "fooled both ways"); the
//     handshake must complete and the response arrive.
//
// Every trick is first run through a second, bare bridge (no ips) for
// both names: the connection must work there, so a "blocked" result
// through ips is ips's doing and not a broken trick.
//
// The TCP-level tricks are done by test/tools/desync, an NFQUEUE tool in
// the LAN host's namespace that rewrites the first data segment of each
// connection (selected by client source port) and sends the pieces itself
// over AF_PACKET; the kernel's TCP keeps running the connection. The
// application-level tricks (TLS record fragmentation, urgent data, HTTP
// spellings) are done by the client.

// evasion is one row of the suite.
type evasion struct {
	name  string
	proto string // "tls" (TCP 443), "http" (TCP 80) or "quic" (UDP 443)
	// desync is the tool's strategy spec with {decoy} for the other name
	// (",host=<the real name>" is added); "" leaves the segments alone.
	desync string
	// TLS: the SNI to send for host, and a rewrite of the first write
	// (the ClientHello record).
	sni      func(host string) string
	tlsWrap  func(host string) func(c *net.TCPConn, b []byte) error
	bigHello bool // a ClientHello of about 6 KB
	v6       bool // over IPv6
	// HTTP: the request for host (other: the other name), and how it is
	// written.
	httpReq   func(host, other string) string
	httpWrite func(host string) func(c *net.TCPConn, b []byte) error
	// skipResponses: answers to read and ignore before the one judged.
	skipResponses int
	// pending names the branch whose engine work this row waits for
	// (from evasionPending).
	pending string
}

// evasionPending lists the rows that fail today, with the branch whose
// engine work is expected to fix them ("unassigned": none yet). A failure
// of a listed row is reported as a known gap instead of failing the test
// (IPS_EVASION_STRICT=1 fails it anyway); a listed row that passes says
// so. Delete a row's entry once it passes: from then on it is a
// regression test like every other row.
var evasionPending = map[string]string{
	// About 200 (TLS) or 39 (HTTP) one-byte segments in reverse: more
	// out-of-order segments than the stream engine holds (32), so the flow
	// is Uninspectable and on_uninspectable's default passes it (the same
	// trick in three pieces, multidisorder-3, is stopped).
	"tls/multidisorder":  "stream",
	"http/multidisorder": "stream",
	"tls6/multidisorder": "stream",
	// A flow is decided on its first request and handed to the kernel, so
	// a later request on the connection naming another host is never seen
	// (keeping plain HTTP flows under inspection, or deciding per request,
	// is a design choice no branch has made).
	"http/keepalive-second-host": "unassigned",
	"http/pipelined-second-host": "unassigned",
}

// tcpTricks are the segment-level strategies, run for TLS and HTTP over
// IPv4 and for TLS over IPv6 ("tls6/", IP fragments excepted).
var tcpTricks = []struct{ name, spec string }{
	{"plain", "pass"},
	{"split-1", "split,pos=1"},
	{"split-2", "split,pos=2"},
	{"split-midhost", "split,pos=midhost"},
	{"multisplit", "multisplit"},
	{"disorder-1", "disorder,pos=1"},
	{"disorder-midhost", "disorder,pos=midhost"},
	{"multidisorder", "multidisorder"},
	{"multidisorder-3", "multidisorder,cuts=1+midhost"},
	{"fake-badsum", "fake,fool=badsum,decoy={decoy}"},
	{"fake-badsum-copy", "fake,fool=badsum,form=copy,decoy={decoy}"},
	{"fake-badseq", "fake,fool=badseq,decoy={decoy}"},
	{"fake-badseqahead", "fake,fool=badseqahead,decoy={decoy}"},
	{"fake-noack", "fake,fool=noack,decoy={decoy}"},
	{"fake-md5sig", "fake,fool=md5sig,decoy={decoy}"},
	{"fake-badts", "fake,fool=badts,decoy={decoy}"},
	{"fake-ttl", "fake,fool=ttl,decoy={decoy}"},
	{"fakedsplit-badsum", "fakedsplit,fool=badsum,pos=midhost,decoy={decoy}"},
	{"seqovl", "seqovl,pos=midhost,decoy={decoy}"},
	{"ofo-overlap", "ofooverlap,decoy={decoy}"},
	{"rst-badseq", "rst,fool=badseq"},
	{"rst-badsum", "rst,fool=badsum"},
	{"syndata", "syndata,decoy={decoy}"},
	{"ipfrag", "ipfrag,pos=midhost"},
	{"ipfrag-disorder", "ipfragdisorder,pos=midhost"},
}

func midHost(b []byte, host string) int {
	if i := harness.HostIndex(b, host); i >= 0 {
		return i + len(host)/2
	}
	return len(b) / 2
}

// tlsRecordsAt rewrites the ClientHello into records cut at the offsets
// cuts returns (into the handshake data); separate: one write per record.
func tlsRecordsAt(cuts func(hs []byte, host string) []int, separate bool) func(string) func(*net.TCPConn, []byte) error {
	return func(host string) func(*net.TCPConn, []byte) error {
		return func(c *net.TCPConn, b []byte) error {
			var hs []byte
			if len(b) > 5 {
				hs = b[5:]
			}
			out, starts := harness.TLSRecords(b, cuts(hs, host)...)
			if separate {
				return harness.WriteParts(c, out, starts[min(1, len(starts)):]...)
			}
			_, err := c.Write(out)
			return err
		}
	}
}

func mixCase(s string) string {
	b := []byte(s)
	for i := range b {
		if i%2 == 0 && b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

func plainGET(host, _ string) string { return "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n" }

func evasionCases() []evasion {
	var cs []evasion
	for _, proto := range []string{"tls", "http", "tls6"} {
		for _, tr := range tcpTricks {
			if proto == "tls6" && strings.HasPrefix(tr.name, "ipfrag") {
				continue // the tool fragments IPv4 only
			}
			cs = append(cs, evasion{name: proto + "/" + tr.name, proto: strings.TrimSuffix(proto, "6"),
				v6: proto == "tls6", desync: tr.spec})
		}
	}
	cs = append(cs,
		evasion{name: "quic/plain", proto: "quic"},
		// A ClientHello with a post-quantum key share needs two Initial
		// packets; the second arrives first.
		evasion{name: "quic/initial-disorder", proto: "quic", desync: "quicdisorder"},
		// The first Initial decrypted, its CRYPTO frame cut mid-hostname
		// and the pieces reversed; or cut in 8-byte frames, reversed.
		evasion{name: "quic/crypto-reorder", proto: "quic", desync: "quicreorder"},
		evasion{name: "quic/crypto-shuffle", proto: "quic", desync: "quicshuffle"},
		evasion{name: "tls/big-hello", proto: "tls", bigHello: true},
		evasion{name: "tls/big-hello-disorder", proto: "tls", bigHello: true, desync: "disorder,pos=1"},
		evasion{name: "tls/big-hello-multisplit", proto: "tls", bigHello: true, desync: "multisplit"},
		evasion{name: "tls/tlsrec-midhost", proto: "tls",
			tlsWrap: tlsRecordsAt(func(hs []byte, host string) []int { return []int{midHost(hs, host)} }, false)},
		evasion{name: "tls/tlsrec-16", proto: "tls",
			tlsWrap: tlsRecordsAt(func(hs []byte, _ string) []int {
				var cuts []int
				for i := 16; i < len(hs); i += 16 {
					cuts = append(cuts, i)
				}
				return cuts
			}, false)},
		evasion{name: "tls/tlsrec-segments", proto: "tls",
			tlsWrap: tlsRecordsAt(func(hs []byte, host string) []int { return []int{midHost(hs, host)} }, true)},
		evasion{name: "tls/tlsrec-split-1", proto: "tls", desync: "split,pos=1",
			tlsWrap: tlsRecordsAt(func(hs []byte, host string) []int { return []int{midHost(hs, host)} }, false)},
		evasion{name: "tls/sni-case", proto: "tls", sni: mixCase},
		evasion{name: "tls/oob-midhost", proto: "tls",
			tlsWrap: func(host string) func(*net.TCPConn, []byte) error {
				return func(c *net.TCPConn, b []byte) error { return harness.WriteOOB(c, b, midHost(b, host)) }
			}},
		evasion{name: "http/host-case", proto: "http",
			httpReq: func(h, _ string) string { return "GET / HTTP/1.1\r\nhOsT: " + h + "\r\n\r\n" }},
		evasion{name: "http/name-case", proto: "http",
			httpReq: func(h, _ string) string { return "GET / HTTP/1.1\r\nHost: " + mixCase(h) + "\r\n\r\n" }},
		evasion{name: "http/host-spaces", proto: "http",
			httpReq: func(h, _ string) string { return "GET / HTTP/1.1\r\nHost:    " + h + "   \r\n\r\n" }},
		evasion{name: "http/host-tab", proto: "http",
			httpReq: func(h, _ string) string { return "GET / HTTP/1.1\r\nHost:\t" + h + "\t\r\n\r\n" }},
		evasion{name: "http/host-nospace", proto: "http",
			httpReq: func(h, _ string) string { return "GET / HTTP/1.1\r\nHost:" + h + "\r\n\r\n" }},
		evasion{name: "http/host-port", proto: "http",
			httpReq: func(h, _ string) string { return "GET / HTTP/1.1\r\nHost: " + h + ":80\r\n\r\n" }},
		evasion{name: "http/host-dot", proto: "http",
			httpReq: func(h, _ string) string { return "GET / HTTP/1.1\r\nHost: " + h + ".\r\n\r\n" }},
		evasion{name: "http/absolute-uri", proto: "http",
			// RFC 9112 §3.2.2: the server takes the authority of an
			// absolute-form target and ignores Host, which names the
			// other host here.
			httpReq: func(h, other string) string {
				return "GET http://" + h + "/ HTTP/1.1\r\nHost: " + other + "\r\n\r\n"
			}},
		evasion{name: "http/bare-lf", proto: "http",
			httpReq: func(h, _ string) string { return "GET / HTTP/1.1\nHost: " + h + "\n\n" }},
		evasion{name: "http/host-header-split", proto: "http",
			httpWrite: func(string) func(*net.TCPConn, []byte) error {
				return func(c *net.TCPConn, b []byte) error {
					i := strings.Index(string(b), "Host")
					return harness.WriteParts(c, b, i+2, i+7)
				}
			}},
		// Two requests on one connection: the first names the allowed
		// host, the second the real one (HTTP/1.1 keep-alive; a server
		// answers each for its own Host). Only the second answer counts.
		evasion{name: "http/keepalive-second-host", proto: "http",
			httpReq: func(h, _ string) string { return "GET / HTTP/1.1\r\nHost: " + h + "\r\n\r\n" },
			httpWrite: func(string) func(*net.TCPConn, []byte) error {
				return func(c *net.TCPConn, b []byte) error {
					first := "GET / HTTP/1.1\r\nHost: " + allowedName + "\r\n\r\n"
					if _, err := c.Write([]byte(first)); err != nil {
						return err
					}
					if body, err := harness.ReadResponse(c); err != nil || body != "hello "+allowedName {
						return fmt.Errorf("first request: %q %v", body, err)
					}
					_, err := c.Write(b)
					return err
				}
			}},
		evasion{name: "http/pipelined-second-host", proto: "http",
			httpReq: func(h, _ string) string {
				return "GET / HTTP/1.1\r\nHost: " + allowedName + "\r\n\r\nGET / HTTP/1.1\r\nHost: " + h + "\r\n\r\n"
			},
			skipResponses: 1},
		evasion{name: "http/oob-midhost", proto: "http",
			httpWrite: func(host string) func(*net.TCPConn, []byte) error {
				return func(c *net.TCPConn, b []byte) error { return harness.WriteOOB(c, b, midHost(b, host)) }
			}},
	)
	for i := range cs {
		cs[i].pending = evasionPending[cs[i].name]
	}
	return cs
}

const (
	blockedName = "blocked.example"
	allowedName = "allowed.example"
)

// evasionRun is one connection's outcome.
type evasionRun struct {
	err  error
	body string
	dur  time.Duration
}

// served reports whether the server answered for host (as it understood
// the request: case, a port or a trailing dot do not matter).
func (r evasionRun) served(host string) bool {
	if r.err != nil {
		return false
	}
	b := strings.ToLower(strings.TrimPrefix(r.body, "hello "))
	b = strings.TrimSuffix(strings.TrimSuffix(b, ":80"), ".")
	return strings.HasPrefix(r.body, "hello ") && b == host
}

type evasionBench struct {
	topo       *harness.Topology
	apps       *harness.Apps
	http       netip.AddrPort
	withIPS    bool
	desyncTool *harness.Desync
	events     string // the daemon's NDJSON flow events
}

// decisions reads the daemon's "decided" events by client source port,
// so a failing row can show what ips saw.
func (b *evasionBench) decisions(t *testing.T) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	data, err := os.ReadFile(b.events)
	if err != nil {
		t.Logf("no flow events: %v", err)
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		var ev struct {
			Event   string   `json:"event"`
			SrcPort int      `json:"src_port"`
			Name    string   `json:"requested_server_name"`
			State   string   `json:"dpi_state"`
			Verdict string   `json:"verdict"`
			Explain string   `json:"explain"`
			Risks   []string `json:"risks"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Event != "decided" {
			continue
		}
		out[ev.SrcPort] = append(out[ev.SrcPort], fmt.Sprintf("%s name %q (%s, risks %v): %s", ev.Verdict, ev.Name, ev.State, ev.Risks, ev.Explain))
	}
	return out
}

func newEvasionBench(t *testing.T, cases []evasion, withIPS bool) *evasionBench {
	t.Helper()
	b := &evasionBench{topo: harness.NewTopology(t), withIPS: withIPS}
	b.apps = b.topo.StartApps(t)
	b.http = b.topo.StartHTTP(t)
	// The WAN host drops packets with a TTL below 5, standing in for the
	// routers between a gateway and a server: a TTL-limited decoy
	// (fake-ttl, TTL 2) then expires after the bridge as it would on the
	// Internet, instead of reaching the server as data.
	b.topo.SimulateHops(t, 5)
	strategies := map[uint16]string{}
	for i, c := range cases {
		if c.desync == "" {
			continue
		}
		for j, host := range []string{blockedName, allowedName} {
			spec := strings.ReplaceAll(c.desync, "{decoy}", other(host)) + ",host=" + host
			strategies[evasionPort(i, j)] = spec
		}
	}
	b.desyncTool = b.topo.StartDesync(t, strategies)
	if withIPS {
		dir := t.TempDir()
		pol := filepath.Join(dir, "policy.jsonl")
		if err := harness.WriteFile(pol, `{"policy": {"id": 0, "name": "root", "default_marker": "pass", "markers": {"hostnames": {"`+blockedName+`": "drop"}}}}`+"\n"); err != nil {
			t.Fatal(err)
		}
		b.events = filepath.Join(dir, "events.ndjson")
		b.topo.StartDaemon(t, dir, "--policy", pol, "--events", b.events)
	}
	return b
}

func other(host string) string {
	if host == blockedName {
		return allowedName
	}
	return blockedName
}

// evasionPort is the client source port of case i for name j (0 blocked,
// 1 allowed): the desync tool picks the strategy by it.
func evasionPort(i, j int) uint16 { return uint16(harness.DesyncPortLo + 2*i + j) }

func (b *evasionBench) run(c evasion, i, j int, timeout time.Duration) evasionRun {
	host := []string{blockedName, allowedName}[j]
	local := netip.AddrPortFrom(b.topo.LAN4(0), evasionPort(i, j))
	https := b.apps.HTTPS
	if c.v6 {
		local = netip.AddrPortFrom(b.topo.LANAddrs[3], evasionPort(i, j))
		https = netip.AddrPortFrom(b.topo.WANAddr6, https.Port())
	}
	start := time.Now()
	var r evasionRun
	switch c.proto {
	case "tls":
		sni := host
		if c.sni != nil {
			sni = c.sni(host)
		}
		var wrap func(net.Conn) net.Conn
		if c.tlsWrap != nil {
			fn := c.tlsWrap(host)
			wrap = func(cn net.Conn) net.Conn { return harness.FirstWrite(cn, fn) }
		}
		conf := &tls.Config{RootCAs: b.apps.PKI.Roots, ServerName: sni}
		if c.bigHello {
			// ALPN names nobody speaks, 255 bytes each, then the one
			// the server does: a ClientHello of about 6 KB (what
			// post-quantum key shares make normal), 5 segments.
			for k := range 18 {
				conf.NextProtos = append(conf.NextProtos, fmt.Sprintf("x-%d-%s", k, strings.Repeat("p", 250)))
			}
			conf.NextProtos = append(conf.NextProtos, "http/1.1")
		}
		r.body, r.err = harness.TLSGet(b.topo.LAN, local, https, conf, host, wrap, timeout)
	case "http":
		req := plainGET(host, other(host))
		if c.httpReq != nil {
			req = c.httpReq(host, other(host))
		}
		var write func(*net.TCPConn, []byte) error
		if c.httpWrite != nil {
			write = c.httpWrite(host)
		}
		r.body, r.err = harness.HTTPExchange(b.topo.LAN, local, b.http, []byte(req), write, c.skipResponses, timeout)
	case "quic":
		if r.err = b.apps.QUICEchoFrom(b.topo.LAN, local, host, timeout); r.err == nil {
			r.body = "hello " + host // the echo came back whole
		}
	}
	r.dur = time.Since(start)
	return r
}

// TestEvasion runs every trick for both names through ips and through a
// bare bridge, then judges each and logs the table.
func TestEvasion(t *testing.T) {
	cases := evasionCases()
	strict := os.Getenv("IPS_EVASION_STRICT") == "1"
	setup := time.Now()
	bare := newEvasionBench(t, cases, false)
	ips := newEvasionBench(t, cases, true)
	t.Logf("two benches ready in %v (the first run builds ips and the tool)", time.Since(setup).Round(time.Millisecond))
	var wg sync.WaitGroup

	// All connections at once (go test's -parallel would cap subtests at
	// GOMAXPROCS): a blocked one waits its whole timeout.
	const (
		blockedTimeout = 2 * time.Second
		allowedTimeout = 6 * time.Second
	)
	type key struct{ i, j int }
	var mu sync.Mutex
	throughIPS := map[key]evasionRun{}
	throughBare := map[key]evasionRun{}
	sem := make(chan struct{}, 128)
	start := time.Now()
	for i, c := range cases {
		for j := range 2 {
			for _, bench := range []*evasionBench{bare, ips} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					timeout := allowedTimeout
					if bench.withIPS && j == 0 {
						timeout = blockedTimeout
					}
					r := bench.run(c, i, j, timeout)
					mu.Lock()
					defer mu.Unlock()
					if bench.withIPS {
						throughIPS[key{i, j}] = r
					} else {
						throughBare[key{i, j}] = r
					}
				}()
			}
		}
	}
	wg.Wait()
	t.Logf("%d connections in %v", 4*len(cases), time.Since(start).Round(time.Millisecond))

	time.Sleep(200 * time.Millisecond) // the daemon's event writer catches up
	decided := ips.decisions(t)
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-28s %-14s %-22s %s\n", "trick", "blocked name", "allowed name", "pending")
	var gaps []string
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var problems []string
			for j, host := range []string{blockedName, allowedName} {
				if r := throughBare[key{i, j}]; !r.served(host) {
					t.Errorf("%s without ips: the trick itself breaks the connection (%v, body %q): fix the trick, not ips", host, r.err, r.body)
				}
			}
			blk, alw := throughIPS[key{i, 0}], throughIPS[key{i, 1}]
			bcol, acol := "stays blocked", fmt.Sprintf("works (%v)", alw.dur.Round(10*time.Millisecond))
			if blk.err == nil {
				bcol = "LEAKED"
				problems = append(problems, fmt.Sprintf("%s got through (body %q)", blockedName, blk.body))
			}
			if !alw.served(allowedName) {
				acol = "BROKEN"
				problems = append(problems, fmt.Sprintf("%s failed: %v (body %q)", allowedName, alw.err, alw.body))
			}
			if len(problems) > 0 {
				for j, host := range []string{blockedName, allowedName} {
					problems = append(problems, fmt.Sprintf("ips decided for %s: %v", host, decided[int(evasionPort(i, j))]))
				}
			}
			mu.Lock()
			fmt.Fprintf(&table, "%-28s %-14s %-22s %s\n", c.name, bcol, acol, c.pending)
			mu.Unlock()
			switch {
			case len(problems) == 0 && c.pending != "":
				t.Logf("passes now: clear pending %q", c.pending)
			case len(problems) == 0:
			case c.pending != "" && !strict:
				gaps = append(gaps, c.name)
				waits := "waits for branch " + c.pending
				if c.pending == "unassigned" {
					waits = "asked of no branch yet"
				}
				t.Logf("KNOWN GAP (%s): %s", waits, strings.Join(problems, "; "))
			default:
				for _, p := range problems {
					t.Error(p)
				}
			}
		})
	}
	t.Log(table.String())
	if len(gaps) > 0 {
		t.Logf("%d known gaps: %s", len(gaps), strings.Join(gaps, ", "))
	}
	if t.Failed() {
		t.Logf("desync log (ips bench):\n%s", ips.desyncTool.Log())
	}
}
