package policy

import (
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"ips/dpi"
	"ips/dpi/capture"
	"ips/verdict"
)

const captures = "../../shared/conformance/ndpi/pcap/"

// TestFinalityOnCaptures replays the conformance captures through a
// Worker under several policies and checks the promise behind early
// decisions: an action declared final while the engine was still
// inspecting is the action the flow ends with.
func TestFinalityOnCaptures(t *testing.T) {
	files, _ := filepath.Glob(captures + "*.pcap*")
	if len(files) == 0 {
		t.Skip("conformance captures not present")
	}
	if testing.Short() {
		files = files[:20]
	}
	loc, asn := sampleGeo(t)
	policies := map[string]string{
		"block-tor": `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {"protocols": {"Tor": "drop"}}}]}`,
		"mixed": `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {
		   "protocols": {"TLS": "drop", "DNS": 3, "QUIC.YouTube": "reject"}, "categories": {"Web": 4, "Network": "drop"},
		   "hostnames": {"google.com": "drop", "*.microsoft.com": 5}, "risks": {"TLS_MISSING_SNI": 6, "KNOWN_PROTOCOL_ON_NON_STANDARD_PORT": 7}},
		   "flow_risk": {"risk_score": 100, "marker": 8}}]}`,
		"geo-only":     `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {"countries": {"US": "drop"}, "asn": {"15169": 3}}}]}`,
		"default-drop": `{"version": 1, "policies": [{"id": 0, "default_marker": "drop", "markers": {"hostnames": {"example.com": "pass"}, "protocols": {"DNS": "pass"}}}]}`,
	}
	early, flows := 0, 0
	for name, text := range policies {
		s := mustParse(t, text, LoadOptions{GeoIP: loc, GeoIPASN: asn})
		h := &Holder{}
		h.Store(s)
		for _, file := range files {
			decided := map[string]verdict.Decision{}
			key := func(f *dpi.Flow) string { return fmt.Sprint(f.Proto(), f.Client(), f.Server(), f.FirstSeen) }
			var w *Worker
			w = NewWorker(WorkerConfig{Policy: h,
				Decided: func(f *dpi.Flow, d verdict.Decision) {
					decided[key(f)] = d
					if !f.Result.State.Final() {
						early++
					}
				},
				Ended: func(f *dpi.Flow, d verdict.Decision) {
					flows++
					k := key(f)
					if first, ok := decided[k]; ok && (first.Action != d.Action || first.Class != d.Class) {
						t.Errorf("%s %s: %s → %s: final %v (%s) but ended %v (%s)", name, filepath.Base(file), f.Client(), f.Server(),
							first.Action, first.Explain(), d.Action, d.Explain())
					}
					delete(decided, k)
				}}, nil)
			r, err := capture.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			var p dpi.Packet
			for {
				data, link, ts, err := r.Next()
				if err == io.EOF || err != nil {
					break
				}
				if p.Decode(link, data) == nil {
					w.ProcessDecoded(&p, ts)
				}
			}
			r.Close()
			w.Flush()
		}
	}
	t.Logf("%d flows judged, %d decisions final before the DPI result", flows, early)
	if early == 0 {
		t.Error("no decision was final early")
	}
}
