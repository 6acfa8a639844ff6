package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestReplayGolden replays each capture the project made itself and
// compares the NDJSON with the reviewed golden output.
func TestReplayGolden(t *testing.T) {
	paths, _ := filepath.Glob("../../testdata/captures/*.pcap")
	if len(paths) == 0 {
		t.Fatal("no captures under testdata/captures")
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".pcap")
		if name == "demo" {
			continue // the concatenation of the others
		}
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run([]string{"replay", p}, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			golden := filepath.Join("../../testdata/golden", name+".ndjson")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/ips -run Golden -update and review the diff)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("replay of %s differs from %s:\n got: %s\nwant: %s", p, golden, out.String(), want)
			}
		})
	}
}

func TestReplayErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pcap")
	os.WriteFile(bad, []byte("this is not a capture"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"replay", bad}, &out, &errb); code != 1 || !strings.Contains(errb.String(), bad) {
		t.Errorf("not a capture: exit %d, stderr %q (want 1 and the file named)", code, errb.String())
	}
	// A capture cut in the middle of a packet: the flows read so far are
	// still printed, and the error names the file.
	data, err := os.ReadFile("../../testdata/captures/http.pcap")
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, data[:len(data)-30], 0o644)
	out.Reset()
	errb.Reset()
	code := run([]string{"replay", cut}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "truncated") || !strings.Contains(errb.String(), cut) {
		t.Errorf("truncated: exit %d, stderr %q", code, errb.String())
	}
	if !strings.Contains(out.String(), `"dst_port":80`) {
		t.Errorf("truncated capture printed no flows: %q", out.String())
	}
	// An unsupported link type.
	hdr := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 147, 0, 0, 0}
	odd := filepath.Join(dir, "odd.pcap")
	os.WriteFile(odd, hdr, 0o644)
	errb.Reset()
	if code := run([]string{"replay", odd}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "link type 147") {
		t.Errorf("link type: exit %d, stderr %q", code, errb.String())
	}
	if code := run([]string{"replay"}, &out, &errb); code != 2 {
		t.Errorf("no files: exit %d, want 2", code)
	}
}
