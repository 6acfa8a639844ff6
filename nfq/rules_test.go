package nfq

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"ips/verdict"
)

func testSpec(t *testing.T, fail verdict.FailMode, physdev bool) *rulesetSpec {
	l, err := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	if err != nil {
		t.Fatal(err)
	}
	return &rulesetSpec{layout: l, fail: fail, queueBase: 4, queues: 2, impl: QueueCompat,
		lan:     []Port{{Name: "lan0", BridgePort: true, Bridge: "br0"}},
		wan:     []Port{{Name: "wan0", BridgePort: true, Bridge: "br0"}, {Name: "ppp0"}},
		physdev: physdev, classes: []uint16{1, 3, 99}}
}

// The ruleset, as the nft lines each rule is equivalent to. The first
// rule must save the decision before anything matches the ct mark; the
// decided branch must come before any queue rule.
func TestRulesetOrder(t *testing.T) {
	s := testSpec(t, verdict.FailOpen, false)
	var lines []string
	for _, r := range s.rules() {
		lines = append(lines, r.chain+": "+r.nft+" # "+r.tag)
	}
	got := strings.Join(lines, "\n")
	want := strings.Join([]string{
		`forward: meta mark & 0x00010000 == 0x00010000 jump save # ips:save`,
		`forward: ct mark & 0x000f0000 == 0x00030000 counter accept # ips:pass`,
		`forward: ct mark & 0x000f0000 == 0x00050000 counter drop # ips:drop`,
		`forward: ct mark & 0x000f0000 == 0x00070000 meta l4proto tcp counter reject with tcp reset # ips:reject-tcp`,
		`forward: ct mark & 0x000f0000 == 0x00070000 counter reject # ips:reject`,
		`forward: ct mark & 0x000f0000 == 0x00090000 jump shape # ips:shape`,
		`forward: ct mark & 0x00010000 == 0x00010000 counter accept # ips:decided`,
		`forward: meta l4proto ipv6-icmp icmpv6 type 133-137 accept # ips:nd`,
		`forward: meta mark & 0x00010000 == 0x00000000 iifname "br0" oifname "br0" counter queue num 4-5 bypass # ips:queue`,
		`forward: meta mark & 0x00010000 == 0x00000000 iifname "br0" oifname "ppp0" counter queue num 4-5 bypass # ips:queue`,
		`forward: meta mark & 0x00010000 == 0x00000000 iifname "ppp0" oifname "br0" counter queue num 4-5 bypass # ips:queue`,
		`save: ct mark set ct mark & 0xff00ffff # ips:save-clear`,
		`save: meta mark & 0x00010000 == 0x00010000 ct mark set ct mark | 0x00010000 # ips:save-bit`,
		`save: meta mark & 0x00020000 == 0x00020000 ct mark set ct mark | 0x00020000 # ips:save-bit`,
		`save: meta mark & 0x00040000 == 0x00040000 ct mark set ct mark | 0x00040000 # ips:save-bit`,
		`save: meta mark & 0x00080000 == 0x00080000 ct mark set ct mark | 0x00080000 # ips:save-bit`,
		`save: meta mark & 0x00100000 == 0x00100000 ct mark set ct mark | 0x00100000 # ips:save-bit`,
		`save: meta mark & 0x00200000 == 0x00200000 ct mark set ct mark | 0x00200000 # ips:save-bit`,
		`save: meta mark & 0x00400000 == 0x00400000 ct mark set ct mark | 0x00400000 # ips:save-bit`,
		`save: meta mark & 0x00800000 == 0x00800000 ct mark set ct mark | 0x00800000 # ips:save-bit`,
		`save: meta mark & 0x000f0000 == 0x00050000 drop # ips:save-drop`,
		`save: meta mark & 0x000f0000 == 0x00070000 meta l4proto tcp reject with tcp reset # ips:save-reject-tcp`,
		`save: meta mark & 0x000f0000 == 0x00070000 reject # ips:save-reject`,
		`shape: ct mark & 0x00ff0000 == 0x00190000 meta priority set 1:1 meta mark set meta mark & 0xff00ffff | 0x00190000 counter accept # ips:shape-class`,
		`shape: ct mark & 0x00ff0000 == 0x00390000 meta priority set 1:3 meta mark set meta mark & 0xff00ffff | 0x00390000 counter accept # ips:shape-class`,
	}, "\n")
	if got != want {
		t.Errorf("ruleset:\n%s\nwant:\n%s", got, want)
	}
}

func TestRulesetPhysdevAndFailClosed(t *testing.T) {
	s := testSpec(t, verdict.FailClosed, true)
	var queue []string
	for _, r := range s.rules() {
		if r.tag == "ips:queue" {
			queue = append(queue, r.nft)
		}
	}
	want := []string{
		`meta mark & 0x00010000 == 0x00000000 xt match physdev (--physdev-in lan0 --physdev-out wan0) counter queue num 4-5`,
	}
	if len(queue) != 4 || !strings.Contains(queue[0], "xt match physdev (--physdev-in lan0 --physdev-out wan0) counter queue num 4-5") ||
		strings.Contains(queue[0], "bypass") || !strings.Contains(queue[1], `oifname "ppp0" xt match physdev (--physdev-in lan0)`) {
		t.Errorf("queue rules %q, want like %q", queue, want)
	}
}

// Byte layouts of the xtables structures given to nft_compat, as
// iptables-nft builds them for
// "-m physdev --physdev-in lan0 -j NFQUEUE --queue-balance 4:5 --queue-bypass".
func TestXtInfoLayouts(t *testing.T) {
	q := nfqueueTargetInfo(4, 2, true)
	if !bytes.Equal(q[:6], ne.AppendUint16(ne.AppendUint16(ne.AppendUint16(nil, 4), 2), 1)[:6]) || len(q) != 8 {
		t.Errorf("NFQUEUE v3 info % x", q)
	}
	p := physdevInfo("lan0", "")
	if len(p) != 72 || string(p[0:4]) != "lan0" || p[4] != 0 ||
		!bytes.Equal(p[16:21], []byte{0xff, 0xff, 0xff, 0xff, 0xff}) || p[21] != 0 || p[65] != physdevOpIn || p[32] != 0 {
		t.Errorf("physdev info % x", p)
	}
}

func TestParseProcQueues(t *testing.T) {
	// /proc/net/netfilter/nfnetlink_queue as the kernel prints it.
	in := []byte("    0 3569672416     2 2 65531     7    11       14  1\n" +
		"    1 2357366280     0 2 65531     0     0        6  1\n" +
		"garbage line\n")
	got := parseProcQueues(in, nil)
	if len(got) != 2 {
		t.Fatalf("%+v", got)
	}
	if g := got[0]; g.Queue != 0 || g.PortID != 3569672416 || g.Waiting != 2 || g.CopyRange != 65531 || g.Dropped != 7 || g.UserDropped != 11 || g.IDSequence != 14 {
		t.Errorf("%+v", g)
	}
}

func FuzzParseProcQueues(f *testing.F) {
	f.Add([]byte("    0 3569672416     2 2 65531     7    11       14  1\n"))
	f.Fuzz(func(t *testing.T, b []byte) { parseProcQueues(b, nil) })
}

func TestConntrackMessages(t *testing.T) {
	for _, tup := range []verdict.Tuple{
		{Proto: 6, Src: netip.MustParseAddrPort("10.0.0.2:40000"), Dst: netip.MustParseAddrPort("10.0.0.200:443")},
		{Proto: 17, Src: netip.MustParseAddrPort("[fd00::2]:5353"), Dst: netip.MustParseAddrPort("[fd00::200]:53")},
	} {
		var m msgBuf
		m.appendSetMark(9, tup, false, 0x00050000, 0x00ff0000)
		msg, rest, ok := nextMsg(m.b)
		if !ok || rest != nil || msg.typ != subsysCtnetlink<<8|ipctnlMsgCtNew || msg.flags != nlmFRequest|nlmFAck || msg.seq != 9 {
			t.Fatalf("header %+v", msg)
		}
		// A dump answer carries the same attributes: parse it back.
		c, ok := parseConn(msg.body)
		if !ok || c.Tuple != tup || c.Mark != 0x00050000 {
			t.Errorf("round trip %+v → %+v", tup, c)
		}
		m.reset()
		m.appendSetMark(10, tup, true, 0, 0x00ff0000)
		msg, _, _ = nextMsg(m.b)
		it := attrIter{b: msg.body[nfgenHdrLen:]}
		if !it.next() || it.typ != ctaTupleReply {
			t.Fatalf("reply update starts with attribute %d", it.typ)
		}
		if r, ok := parseTuple(it.data); !ok || r != reverse(tup) {
			t.Errorf("reply tuple %+v", r)
		}
	}
}

func FuzzParseConn(f *testing.F) {
	var m msgBuf
	m.appendSetMark(1, verdict.Tuple{Proto: 6, Src: netip.MustParseAddrPort("10.0.0.2:1"), Dst: netip.MustParseAddrPort("10.0.0.3:2")}, false, 1, 1)
	f.Add(m.b[nlmsgHdrLen:])
	f.Fuzz(func(t *testing.T, b []byte) { parseConn(b) })
}

func FuzzParseLink(f *testing.F) {
	b := make([]byte, ifinfomsgLen)
	ne.PutUint32(b[4:8], 3)
	var m msgBuf
	m.b = b
	m.attr(iflaIfname, []byte("lan0\x00"))
	m.b = ne.AppendUint16(m.b, 8)
	m.b = ne.AppendUint16(m.b, iflaMaster)
	m.b = ne.AppendUint32(m.b, 2)
	n := m.nest(iflaLinkinfo)
	m.attr(iflaInfoKind, []byte("veth\x00"))
	m.attr(iflaInfoSlvKind, []byte("bridge\x00"))
	m.endNest(n)
	if l, ok := parseLink(m.b); !ok || l.name != "lan0" || l.master != 2 || l.kind != "veth" || l.slave != "bridge" || l.index != 3 {
		f.Fatalf("seed parses as %+v", l)
	}
	f.Add(m.b)
	f.Fuzz(func(t *testing.T, b []byte) { parseLink(b) })
}

// The egress classification chains, as the nft lines they are equivalent
// to: unshaped packets leave first, then the host map, then the pool map.
func TestShapeChainRules(t *testing.T) {
	l, _ := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	var lines []string
	for _, r := range shapeChainRules(l, true, 128, 0x1fffe) {
		lines = append(lines, r.nft+" # "+r.tag)
	}
	got := strings.Join(lines, "\n")
	want := strings.Join([]string{
		`meta mark & 0x000f0000 != 0x00090000 accept # ips:egress-unshaped`,
		`meta length <= 128 meta priority set 1:fffe accept # ips:egress-small`,
		`meta protocol ip meta priority set ip saddr . meta mark & 0x00ff0000 map @hosts4 accept # ips:egress-host`,
		`meta protocol ip meta priority set ip saddr . meta mark & 0x00ff0000 map @pools4 accept # ips:egress-pool`,
		`meta protocol ip6 meta priority set ip6 saddr . meta mark & 0x00ff0000 map @hosts6 accept # ips:egress-host`,
		`meta protocol ip6 meta priority set ip6 saddr . meta mark & 0x00ff0000 map @pools6 accept # ips:egress-pool`,
	}, "\n")
	if got != want {
		t.Errorf("upload chain:\n%s\nwant:\n%s", got, want)
	}
	down := shapeChainRules(l, false, 0, 0)
	if len(down) != 5 || !strings.Contains(down[1].nft, "ip daddr") || !strings.Contains(down[3].nft, "ip6 daddr") {
		t.Errorf("download chain: %+v", down)
	}
}
