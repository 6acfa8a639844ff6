package main

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

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
