package policy

import (
	"strings"
	"testing"

	"ips/dpi"
	"ips/verdict"
)

// TestOnUninspectable: "on_uninspectable" is read, validated, and decides
// flows the engine marked Uninspectable before any marker; by default
// (and with "pass") such flows are judged like any other, the risk they
// carry included.
func TestOnUninspectable(t *testing.T) {
	const doc = `{"version": 1, %s"policies": [{"id": 0, "default_marker": "pass",
	  "markers": {"hostnames": {"allowed.example": "pass", "blocked.example": "drop"}}}]}`
	uninspectable := func(host string) dpi.Result {
		r := dpi.Result{State: dpi.GivenUp, Hostname: host, Uninspectable: true}
		r.Risks = r.Risks.With(dpi.RiskObfuscatedTraffic)
		return r
	}
	h := &Host{Pool: -1}
	for _, tc := range []struct {
		opt        string
		want       verdict.Action
		wantAction verdict.Action // OnUninspectable()
	}{
		{"", verdict.Pass, verdict.None},
		{`"on_uninspectable": "pass", `, verdict.Pass, verdict.None},
		{`"on_uninspectable": "drop", `, verdict.Drop, verdict.Drop},
	} {
		s := mustParse(t, strings.Replace(doc, "%s", tc.opt, 1), LoadOptions{})
		if got := s.OnUninspectable(); got != tc.wantAction {
			t.Errorf("%q: OnUninspectable %v, want %v", tc.opt, got, tc.wantAction)
		}
		r := uninspectable("")
		d := s.Judge(h, &r)
		if d.Action != tc.want || !d.Final {
			t.Errorf("%q: uninspectable flow: %v final %v (%s), want %v final", tc.opt, d.Action, d.Final, d.Explain(), tc.want)
		}
		// A name seen before the stream broke does not rescue it under
		// "drop": the receiver may read another.
		r = uninspectable("allowed.example")
		if d := s.Judge(h, &r); d.Action != tc.want {
			t.Errorf("%q: uninspectable flow naming an allowed host: %v, want %v", tc.opt, d.Action, tc.want)
		}
		// Inspected flows are not affected.
		ok := classified(dpi.ProtoTLS, 0, "allowed.example")
		if d := s.Judge(h, &ok); d.Action != verdict.Pass {
			t.Errorf("%q: inspected allowed flow: %v", tc.opt, d.Action)
		}
		bad := classified(dpi.ProtoTLS, 0, "blocked.example")
		if d := s.Judge(h, &bad); d.Action != verdict.Drop {
			t.Errorf("%q: inspected blocked flow: %v", tc.opt, d.Action)
		}
	}
	s := mustParse(t, strings.Replace(doc, "%s", `"on_uninspectable": "drop", `, 1), LoadOptions{})
	r := uninspectable("")
	if e := s.Judge(h, &r).Explain(); !strings.Contains(e, "on_uninspectable") {
		t.Errorf("explanation %q does not name the option", e)
	}
	// Under "drop", a flow still being inspected is not settled early (it
	// may yet turn out uninspectable); under the default it is.
	inspecting := dpi.Result{State: dpi.Inspecting}
	const plain = `{"version": 1, %s"policies": [{"id": 0, "default_marker": "pass"}]}`
	drop := mustParse(t, strings.Replace(plain, "%s", `"on_uninspectable": "drop", `, 1), LoadOptions{})
	if d := drop.Judge(h, &inspecting); d.Final {
		t.Errorf("on_uninspectable drop: inspecting flow decided %v early", d.Action)
	}
	def := mustParse(t, strings.Replace(plain, "%s", "", 1), LoadOptions{})
	if d := def.Judge(h, &inspecting); !d.Final {
		t.Errorf("default: inspecting flow of a policy that cannot change not settled")
	}
	// Flow risk markers see the risk when the option passes.
	s = mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass",
	  "markers": {"risks": {"OBFUSCATED_TRAFFIC": "drop"}}}]}`, LoadOptions{})
	if d := s.Judge(h, &r); d.Action != verdict.Drop {
		t.Errorf("risk marker on Obfuscated Traffic: %v", d.Action)
	}
	for _, bad := range []string{`"on_uninspectable": "block", `, `"on_uninspectable": true, `} {
		_, _, err := parse(t, "policy.json", strings.Replace(doc, "%s", bad, 1), LoadOptions{}, nil)
		if err == nil || !strings.Contains(err.Error(), "on_uninspectable") {
			t.Errorf("%s: error %v, want one naming on_uninspectable", bad, err)
		}
	}
}
