package verdict

import "testing"

func TestMarkLayoutRoundTrip(t *testing.T) {
	for _, mask := range []uint32{DefaultMarkMask, 0xffff0000, 0x0000001f, 0x7ff00000} {
		l, err := NewMarkLayout(mask)
		if err != nil {
			t.Fatalf("mask %#x: %v", mask, err)
		}
		for _, d := range []Decision{
			{Action: Pass, Final: true},
			{Action: Drop, Final: true},
			{Action: Reject, Final: true},
			{Action: Shape, Class: l.MaxClass(), Final: true},
			{Action: Mark, Class: min(7, l.MaxClass()), Final: true},
		} {
			m := l.Apply(0xffffffff&^mask, d)
			if m&^mask != 0xffffffff&^mask {
				t.Errorf("mask %#x: bits outside the mask changed: %#x", mask, m)
			}
			got, ok := l.Decode(m)
			if !ok || got.Action != d.Action || got.Class != d.Class {
				t.Errorf("mask %#x: %+v → %#x → %+v %v", mask, d, m, got, ok)
			}
			if m&l.ActionMask() != l.ActionValue(d.Action) {
				t.Errorf("mask %#x: action value %#x vs %#x", mask, m&l.ActionMask(), l.ActionValue(d.Action))
			}
		}
		if v := l.Value(Decision{Action: Drop}); v != 0 {
			t.Errorf("undecided decision encodes to %#x", v)
		}
		if _, ok := l.Decode(0); ok {
			t.Error("zero mark decodes as decided")
		}
	}
}

func TestMarkLayoutRejectsBadMasks(t *testing.T) {
	for _, m := range []uint32{0, 0x0f, 0x00ff00ff, 0x80000001} {
		if _, err := NewMarkLayout(m); err == nil {
			t.Errorf("mask %#x accepted", m)
		}
	}
	l, _ := NewMarkLayout(DefaultMarkMask)
	if l.MaxClass() != 15 {
		t.Errorf("default max class %d", l.MaxClass())
	}
}

func TestExplain(t *testing.T) {
	d := Decision{Action: Drop, Pool: "lan2", Chain: "policy 2 (⊂ 1 ⊂ 0)", Rule: "hostname www.gstatic.com → drop"}
	if got, want := d.Explain(), "pool lan2 → policy 2 (⊂ 1 ⊂ 0): hostname www.gstatic.com → drop"; got != want {
		t.Errorf("Explain = %q, want %q", got, want)
	}
}

func TestFailMode(t *testing.T) {
	if m, err := ParseFailMode("closed"); err != nil || m != FailClosed || m.Action() != Drop {
		t.Errorf("closed: %v %v", m, err)
	}
	if m, err := ParseFailMode("open"); err != nil || m.Action() != Pass {
		t.Errorf("open: %v %v", m, err)
	}
	if _, err := ParseFailMode("maybe"); err == nil {
		t.Error("accepted maybe")
	}
}

func TestShaperPer(t *testing.T) {
	for s, want := range map[string]ShaperPer{"": PerPool, "pool": PerPool, "ALL": PerAll, " host ": PerHost} {
		if got, err := ParseShaperPer(s); err != nil || got != want {
			t.Errorf("%q: %v %v", s, got, err)
		}
	}
	if _, err := ParseShaperPer("subnet"); err == nil {
		t.Error("accepted subnet")
	}
	if ClassIDString(0x1fffe) != "1:fffe" {
		t.Error(ClassIDString(0x1fffe))
	}
}
