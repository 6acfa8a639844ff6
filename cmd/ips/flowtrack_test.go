package main

import (
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"ips/nfq"
	"ips/verdict"
)

func TestRateLimit(t *testing.T) {
	r := rateLimit{rate: 100}
	now := time.Unix(1000, 0)
	n := 0
	for i := 0; i < 1000; i++ {
		if r.allow(now) {
			n++
		}
	}
	if n != 100 {
		t.Errorf("burst allowed %d, want 100", n)
	}
	now = now.Add(100 * time.Millisecond)
	n = 0
	for i := 0; i < 1000; i++ {
		if r.allow(now) {
			n++
		}
	}
	if n != 10 {
		t.Errorf("after 0.1 s allowed %d, want 10", n)
	}
}

// An ended event from conntrack carries nfstream's accounting names with
// the kernel's numbers (a name also defined by flowRecord would make
// encoding/json drop both silently: this catches it).
func TestEndedEventFields(t *testing.T) {
	rec := flowRecord{SrcIP: "10.0.0.2", Src2DstBytes: 5, Dst2SrcBytes: 7}
	ci := nfq.ConnInfo{Tuple: verdict.Tuple{Proto: 6, Src: netip.MustParseAddrPort("10.0.0.2:1"), Dst: netip.MustParseAddrPort("10.0.0.3:2")},
		HasCounters: true, OrigPackets: 3, OrigBytes: 300, ReplyPackets: 4, ReplyBytes: 4000, HasTCPState: true, TCPState: nfq.TCPClose}
	first := time.Unix(1000, 0)
	a := kernelAcct(&rec, &ci, first.UnixNano(), first.Add(1500*time.Millisecond))
	rec.End = endReason(&ci)
	b, err := json.Marshal(event{Event: "ended", flowRecord: &rec, flowAcct: a})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	want := map[string]any{"src2dst_bytes": 300.0, "dst2src_bytes": 4000.0, "src2dst_packets": 3.0, "dst2src_packets": 4.0,
		"bidirectional_bytes": 4300.0, "bidirectional_packets": 7.0, "bidirectional_duration_ms": 1500.0,
		"bidirectional_first_seen_ms": 1000000.0, "accounting": "conntrack", "end_reason": "rst", "conntrack_state": "CLOSE"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, m[k], v, b)
		}
	}
	// Without an acct part the event has none of its fields.
	b, _ = json.Marshal(event{Event: "decided", flowRecord: &rec})
	if strings.Contains(string(b), "bidirectional_") {
		t.Errorf("decided event with accounting fields: %s", b)
	}
}

// fakeCT answers Get from a table.
type fakeCT struct {
	entries map[verdict.Tuple]nfq.ConnInfo
}

func (f *fakeCT) Get(t verdict.Tuple) (nfq.ConnInfo, error) {
	if ci, ok := f.entries[t]; ok {
		return ci, nil
	}
	return nfq.ConnInfo{}, unix.ENOENT
}
func (f *fakeCT) DumpInfo(val, mask uint32, fn func(nfq.ConnInfo)) error {
	for _, ci := range f.entries {
		if ci.Mark&mask == val {
			fn(ci)
		}
	}
	return nil
}
func (f *fakeCT) Close() error { return nil }

// The tracker's ends: a TCP close ends a tracked flow once, with the
// counters read at the close; its destroy is then silent; a destroy of an
// entry it does not know ends it with the verdict from the mark; an
// update of an unknown entry says nothing; a flow conntrack never had
// ends with user-space counts; over the rate limit ends are counted.
func TestTrackerEnds(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ev.ndjson")
	ev, err := openEvents(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	layout, _ := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	passMark := layout.Value(verdict.Decision{Final: true, Action: verdict.Pass})
	dropMark := layout.Value(verdict.Decision{Final: true, Action: verdict.Drop})
	tu := func(port uint16) verdict.Tuple {
		return verdict.Tuple{Proto: 6, Src: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), port), Dst: netip.MustParseAddrPort("10.0.0.9:443")}
	}
	ct := &fakeCT{entries: map[verdict.Tuple]nfq.ConnInfo{
		tu(1): {Tuple: tu(1), Mark: passMark, HasCounters: true, OrigPackets: 10, OrigBytes: 1000, ReplyPackets: 20, ReplyBytes: 30000},
	}}
	tr := &flowTracker{log: slog.New(slog.DiscardHandler), ev: ev, layout: layout, ct: ct, max: 10,
		flows: map[verdict.Tuple]*tracked{}, lim: rateLimit{rate: 2}}
	first := time.Now().Add(-2 * time.Second)
	for _, p := range []uint16{1, 3} {
		tr.flows[tu(p)] = &tracked{rec: flowRecord{SrcIP: "10.0.0.2", SrcPort: p, Verdict: "pass", ApplicationName: "TLS", Explain: "x"}, first: first.UnixNano(), decidedAt: first}
	}
	now := time.Now()
	tr.onConntrack(nfq.CtEvent{Time: now, ConnInfo: nfq.ConnInfo{Tuple: tu(1), Mark: passMark, HasTCPState: true, TCPState: nfq.TCPTimeWait}})
	tr.onConntrack(nfq.CtEvent{Time: now, ConnInfo: nfq.ConnInfo{Tuple: tu(1), Mark: passMark, HasTCPState: true, TCPState: nfq.TCPTimeWait}})
	tr.onConntrack(nfq.CtEvent{Destroy: true, Time: now, ConnInfo: nfq.ConnInfo{Tuple: tu(1), Mark: passMark, HasCounters: true, OrigBytes: 1100}})
	tr.onConntrack(nfq.CtEvent{Time: now, ConnInfo: nfq.ConnInfo{Tuple: tu(2), Mark: dropMark, HasTCPState: true, TCPState: nfq.TCPClose}})
	tr.onConntrack(nfq.CtEvent{Destroy: true, Time: now, ConnInfo: nfq.ConnInfo{Tuple: tu(2), Mark: dropMark, HasCounters: true, OrigPackets: 3, OrigBytes: 180, HasTCPState: true, TCPState: nfq.TCPSynSent}})
	// Port 3: conntrack never had it; the engine forgot it.
	tr.flows[tu(3)].goneAt = now.Add(-3 * time.Second)
	tr.endGone(now)
	// Over the limit (2 a second, both used): counted, not written.
	tr.flows[tu(4)] = &tracked{first: first.UnixNano()}
	tr.onConntrack(nfq.CtEvent{Destroy: true, Time: now, ConnInfo: nfq.ConnInfo{Tuple: tu(4), Mark: passMark}})
	if len(tr.flows) != 0 {
		t.Errorf("flows left: %v", tr.flows)
	}
	ev.shutdown()
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 ended events, got %d:\n%s", len(lines), b)
	}
	var got []map[string]any
	for _, l := range lines {
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		got = append(got, m)
	}
	check := func(i int, want map[string]any) {
		t.Helper()
		for k, v := range want {
			if got[i][k] != v {
				t.Errorf("event %d: %s = %v, want %v\n%s", i, k, got[i][k], v, lines[i])
			}
		}
	}
	check(0, map[string]any{"event": "ended", "src_port": 1.0, "end_reason": "fin", "accounting": "conntrack", "dst2src_bytes": 30000.0,
		"bidirectional_bytes": 31000.0, "application_name": "TLS", "conntrack_state": "TIME_WAIT"})
	if d := got[0]["bidirectional_duration_ms"].(float64); d < 1900 || d > 3000 {
		t.Errorf("duration %v ms, want about 2000", d)
	}
	check(1, map[string]any{"src_port": 2.0, "verdict": "drop", "end_reason": "timeout", "src2dst_bytes": 180.0, "accounting": "conntrack", "conntrack_state": "SYN_SENT"})
	check(2, map[string]any{"src_port": 3.0, "end_reason": "idle", "accounting": "user"})
	if tr.stats.suppressed.Load() != 1 || tr.stats.unknown.Load() != 1 || tr.stats.endedKernel.Load() != 2 || tr.stats.endedUser.Load() != 1 {
		t.Errorf("stats: suppressed %d unknown %d kernel %d user %d", tr.stats.suppressed.Load(), tr.stats.unknown.Load(), tr.stats.endedKernel.Load(), tr.stats.endedUser.Load())
	}
}
