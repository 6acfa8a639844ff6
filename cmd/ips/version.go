package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at link time to override what the build info says:
//
//	go build -ldflags "-X main.version=1.4.0" ./cmd/ips
var version string

// buildVersion describes this binary: the version (the -ldflags override,
// else the module version "go install …@vX" records, else "devel"), the
// VCS revision and time the go command stamped, whether the tree had
// local changes, and the Go release.
type buildVersion struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"revision_time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

func readVersion() buildVersion {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(bi, version)
}

// versionFrom reads the build info (nil: none) with the link-time
// override.
func versionFrom(bi *debug.BuildInfo, override string) buildVersion {
	v := buildVersion{Version: override, Go: runtime.Version()}
	if bi != nil {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	return v
}

func (v buildVersion) String() string {
	s := "ips " + v.Version
	if v.Revision != "" {
		r := v.Revision
		if len(r) > 12 {
			r = r[:12]
		}
		s += " (" + r
		if v.Modified {
			s += ", modified"
		}
		if v.Time != "" {
			s += ", " + v.Time
		}
		s += ")"
	}
	return s + " " + v.Go
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "Usage: ips version\n\nPrint the version, the VCS revision it was built from and the Go release.\n")
		if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			return 0
		}
		return 2
	}
	fmt.Fprintln(stdout, readVersion())
	return 0
}
