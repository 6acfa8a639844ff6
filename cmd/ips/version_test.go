package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Path: "ips", Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "4c834f8a1b2c3d4e5f60718293a4b5c6d7e8f901"},
		{Key: "vcs.time", Value: "2026-12-04T18:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	v := versionFrom(bi, "")
	if v.Version != "devel" || v.Revision != bi.Settings[0].Value || !v.Modified {
		t.Errorf("%+v", v)
	}
	if s := v.String(); !strings.HasPrefix(s, "ips devel (4c834f8a1b2c, modified, 2026-12-04T18:00:00Z) go") {
		t.Errorf("String: %q", s)
	}
	if v := versionFrom(bi, "1.2.3"); v.Version != "1.2.3" {
		t.Errorf("override: %+v", v)
	}
	bi.Main.Version = "v0.4.0"
	if v := versionFrom(bi, ""); v.Version != "v0.4.0" {
		t.Errorf("module version: %+v", v)
	}
	if v := versionFrom(nil, ""); v.Version != "devel" || v.Revision != "" {
		t.Errorf("no build info: %+v", v)
	}
	var out bytes.Buffer
	if run([]string{"version"}, &out, &out) != 0 || !strings.HasPrefix(out.String(), "ips ") {
		t.Errorf("ips version: %q", out.String())
	}
}
