package policy

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"ips/dpi"
	"ips/verdict"
)

// monitorDoc: policy 1 sets "enforce": false; 2 inherits it from 1; 3
// (child of 2) sets "enforce": true again; 4 (child of 0) inherits
// enforcement from 0, which sets nothing.
const monitorDoc = `{"version": 1,
 "pools": [
  {"name": "p1", "ip": ["10.0.1.0/24"], "policy": 1},
  {"name": "p2", "ip": ["10.0.2.0/24"], "policy": 2},
  {"name": "p3", "ip": ["10.0.3.0/24"], "policy": 3},
  {"name": "p4", "ip": ["10.0.4.0/24"], "policy": 4}],
 "policies": [
  {"id": 0, "default_marker": "pass", "markers": {"protocols": {"ICMP": "drop"}}},
  {"id": 1, "parent": 0, "enforce": false},
  {"id": 2, "parent": 1},
  {"id": 3, "parent": 2, "enforce": true},
  {"id": 4, "parent": 0}]}`

func TestEnforceInheritance(t *testing.T) {
	s := mustParse(t, monitorDoc, LoadOptions{})
	if got := s.MonitoredPolicies(); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("monitored policies %v, want [1 2]", got)
	}
	if s.Monitor() {
		t.Error("Set says --monitor without LoadOptions.Monitor")
	}
	icmp := &dpi.Result{Master: dpi.ProtoICMP, App: dpi.ProtoICMP, State: dpi.Classified}
	for _, c := range []struct {
		host    string
		monitor bool
	}{{"10.0.1.5", true}, {"10.0.2.5", true}, {"10.0.3.5", false}, {"10.0.4.5", false}, {"10.9.9.9", false}} {
		d := s.Evaluate(&Input{Result: icmp, Local: netip.MustParseAddr(c.host), Remote: netip.MustParseAddr("8.8.8.8")})
		// The would-be verdict stays in Action; Monitor says it is not
		// enforced, and the mark then carries pass.
		if d.Action != verdict.Drop || d.Monitor != c.monitor {
			t.Errorf("%s: action %v monitor %v, want drop monitor %v (%s)", c.host, d.Action, d.Monitor, c.monitor, d.Explain())
		}
		l := s.MarkLayout()
		want := l.ActionValue(verdict.Drop)
		if c.monitor {
			want = l.ActionValue(verdict.Pass)
		}
		if d.Final {
			if got := l.Value(d) & l.ActionMask(); got != want {
				t.Errorf("%s: mark %#x, want %#x", c.host, got, want)
			}
		}
	}
	// --monitor covers every policy, "enforce": true included, and
	// flows of no policy.
	s = mustParse(t, monitorDoc, LoadOptions{Monitor: true})
	if got := s.MonitoredPolicies(); !slices.Equal(got, []int64{0, 1, 2, 3, 4}) {
		t.Errorf("--monitor: monitored %v", got)
	}
	d := s.Evaluate(&Input{Result: icmp, Local: netip.MustParseAddr("10.0.3.5"), Remote: netip.MustParseAddr("8.8.8.8")})
	if d.Action != verdict.Drop || !d.Monitor {
		t.Errorf("--monitor: %+v", d)
	}
	s = mustParse(t, `{"version": 1, "pools": [{"name": "x", "ip": ["10.0.0.0/8"], "policy": 7}], "policies": [{"id": 7, "default_marker": "drop"}]}`, LoadOptions{Monitor: true})
	if d := s.Evaluate(&Input{Result: icmp, Local: netip.MustParseAddr("192.168.0.1"), Remote: netip.MustParseAddr("8.8.8.8")}); d.PolicyID != -1 || !d.Monitor {
		t.Errorf("--monitor, no policy: %+v", d)
	}
}

func TestEnforceNotBool(t *testing.T) {
	_, rep, err := parse(t, "p.json", `{"version": 1, "policies": [{"id": 0, "enforce": "no"}]}`, LoadOptions{}, nil)
	if got := diagnostics(err, rep); !strings.Contains(got, `policy enforce: want true or false, not a string`) {
		t.Errorf("got %s", got)
	}
}

func TestMarkMonitoredShape(t *testing.T) {
	l, err := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	if err != nil {
		t.Fatal(err)
	}
	d := verdict.Decision{Action: verdict.Shape, Class: 3, Final: true, Monitor: true}
	if got, want := l.Value(d), l.Value(verdict.Decision{Action: verdict.Pass, Final: true}); got != want {
		t.Errorf("monitored shape: mark %#x, want plain pass %#x (no class: unshaped)", got, want)
	}
	if d.Enforced() != verdict.Pass || (verdict.Decision{Action: verdict.Drop}).Enforced() != verdict.Drop {
		t.Error("Enforced")
	}
	if l.Value(verdict.Decision{Action: verdict.Drop, Monitor: true}) != 0 {
		t.Error("a monitored decision that is not final must still encode to 0 (keep queueing)")
	}
}

// TestWorkerReviseEnforce: switching "enforce" at reload reports the
// decided flows, so their marks are rewritten (the decision already made
// becomes enforced), and back.
func TestWorkerReviseEnforce(t *testing.T) {
	doc := func(enforce string) string {
		return `{"version": 1, "policies": [{"id": 0, "enforce": ` + enforce + `, "default_marker": "pass", "markers": {"protocols": {"ICMP": "drop"}}}]}`
	}
	r := newRig(t, mustParse(t, doc("false"), LoadOptions{}), WorkerConfig{})
	d := r.send(ipPacket("192.168.1.10", "8.8.8.8", dpi.IPProtoICMP, icmpEcho()), verdict.SideLAN)
	if d.Action != verdict.Drop || !d.Final || !d.Monitor {
		t.Fatalf("monitored ICMP: %+v", d)
	}
	if len(r.decided) != 1 || !r.decided[0].Monitor {
		t.Fatalf("Decided %+v", r.decided)
	}
	var got []verdict.Decision
	collect := func(_ verdict.Tuple, d verdict.Decision) { got = append(got, d) }
	r.holder.Store(mustParse(t, doc("true"), LoadOptions{}))
	r.w.Revise(collect)
	if len(got) != 1 || got[0].Monitor || got[0].Action != verdict.Drop || !got[0].Final {
		t.Fatalf("enforce switched on: changes %+v", got)
	}
	got = nil
	r.w.Revise(collect)
	if len(got) != 0 {
		t.Errorf("nothing changed, Revise reported %+v", got)
	}
	r.holder.Store(mustParse(t, doc("false"), LoadOptions{}))
	r.w.Revise(collect)
	if len(got) != 1 || !got[0].Monitor {
		t.Errorf("enforce switched off: changes %+v", got)
	}
}

// TestConvertKeepsEnforce: ips convert writes "enforce" where the source
// set it, so the converted policy monitors the same policies.
func TestConvertKeepsEnforce(t *testing.T) {
	out, _, err := Convert("p.json", []byte(monitorDoc), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := mustParse(t, string(out), LoadOptions{})
	if got := s.MonitoredPolicies(); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("converted: monitored %v, want [1 2]:\n%s", got, out)
	}
}
