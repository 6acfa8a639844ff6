package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The memory a big hostname blocklist costs, measured as the peak RSS of
// a child process (this test binary re-run in helper mode) that loads it
// the way "ips check" does, or loads it and reloads it the way "ips run"
// does on SIGHUP. The figure is 1.5 million names; the README
// ("Hostile policy input") quotes these measurements.

// memTarget is the peak RSS a 1.5 M-name blocklist may cost, in any form,
// for a check and for a start followed by a reload.
const memTarget = 300 << 20

// memNames is how many names the test generates (IPS_MEMTEST_NAMES
// overrides it, to measure other sizes by hand).
func memNames(t *testing.T) int {
	if s := os.Getenv("IPS_MEMTEST_NAMES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("IPS_MEMTEST_NAMES=%q: want a positive number", s)
		}
		return n
	}
	return 1_500_000
}

// writeNames writes n distinct hostnames shaped like a real blocklist's
// (one to three labels under a TLD, 8–40 bytes), each through emit.
func writeNames(n int, emit func(i int, name string)) {
	rng := rand.New(rand.NewPCG(9, 1500000))
	tlds := []string{"com", "net", "org", "info", "ru", "cn", "xyz", "top", "co.uk", "com.br"}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b []byte
	for i := 0; i < n; i++ {
		b = b[:0]
		if rng.IntN(3) == 0 {
			b = append(b, []string{"www", "ads", "cdn", "track", "m"}[rng.IntN(5)]...)
			b = append(b, '.')
		}
		for k := 4 + rng.IntN(10); k > 0; k-- {
			b = append(b, letters[rng.IntN(len(letters))])
		}
		// The index keeps every name distinct.
		b = strconv.AppendInt(b, int64(i), 36)
		b = append(b, '.')
		b = append(b, tlds[rng.IntN(len(tlds))]...)
		emit(i, string(b))
	}
}

// writeBlocklist writes a policy holding n hostnames in one of three
// forms, in dir, and returns the file to load:
//
//   - "native": the native document with the names as hostname markers
//     of policy 0, which a pool's policy 1 inherits;
//   - "nprobe": the same in the nProbe format (one policy line holding
//     every name);
//   - "list": a native document naming a category file of n lines, with
//     "categories": {"Malware": "drop"}.
func writeBlocklist(t *testing.T, dir, form string, n int) string {
	t.Helper()
	create := func(name string) (*os.File, *bufio.Writer) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return f, bufio.NewWriterSize(f, 1<<20)
	}
	done := func(f *os.File, w *bufio.Writer) {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	hostTable := func(w io.Writer) {
		io.WriteString(w, `{`)
		writeNames(n, func(i int, name string) {
			if i > 0 {
				io.WriteString(w, ",")
			}
			fmt.Fprintf(w, "\n%q: %q", name, []string{"drop", "reject"}[i%2])
		})
		io.WriteString(w, "}")
	}
	switch form {
	case "native":
		f, w := create("blocklist.json")
		io.WriteString(w, `{"version": 1, "pools": [{"id": 1, "name": "lan", "ip": ["10.0.0.0/8"], "policy": 1}],
 "policies": [{"id": 1, "parent": 0, "markers": {"protocols": {"Tor": "drop"}}},
 {"id": 0, "default_marker": "pass", "markers": {"hostnames": `)
		hostTable(w)
		io.WriteString(w, "}}]}\n")
		done(f, w)
		return f.Name()
	case "nprobe":
		f, w := create("blocklist.conf")
		io.WriteString(w, "# a big blocklist\n"+`{"pool": {"id": 1, "name": "lan", "ip": ["10.0.0.0/8"]}, "policy": {"id": 1}}`+"\n")
		io.WriteString(w, `{"policy": {"id": 1, "root": 0, "markers": {"protocols": {"Tor": "drop"}}}}`+"\n")
		io.WriteString(w, `{"policy": {"id": 0, "default_marker": "pass", "markers": {"hostnames": `)
		hostTable(w)
		io.WriteString(w, "}}}\n")
		done(f, w)
		return f.Name()
	case "list":
		f, w := create("100_malware.list")
		io.WriteString(w, "# a big blocklist\n")
		writeNames(n, func(i int, name string) {
			io.WriteString(w, name)
			io.WriteString(w, "\n")
		})
		done(f, w)
		f, w = create("blocklist.json")
		io.WriteString(w, `{"version": 1, "category_files": ["100_malware.list"],
 "pools": [{"id": 1, "name": "lan", "ip": ["10.0.0.0/8"], "policy": 1}],
 "policies": [{"id": 0, "default_marker": "pass", "markers": {"categories": {"Malware": "drop"}}},
 {"id": 1, "parent": 0, "markers": {"protocols": {"Tor": "drop"}}}]}`+"\n")
		done(f, w)
		return f.Name()
	}
	t.Fatalf("unknown form %q", form)
	return ""
}

// TestPolicyMemoryHelper is the child process: with IPS_MEMTEST_MODE set
// it runs "ips check FILE" ("check") or loads the policy as "ips run"
// starts and then reloads it ("reload"), and prints the hostname count it
// saw. The parent reads the child's peak RSS from its rusage.
func TestPolicyMemoryHelper(t *testing.T) {
	mode, file := os.Getenv("IPS_MEMTEST_MODE"), os.Getenv("IPS_MEMTEST_FILE")
	if mode == "" {
		t.Skip("the child process of TestPolicyMemory; runs only when it starts it")
	}
	switch mode {
	case "check":
		if code := run([]string{"check", file}, os.Stdout, os.Stderr); code != 0 {
			t.Fatalf("ips check %s: exit %d", file, code)
		}
	case "reload":
		b, _, err := newBrain(brainOptions{Policy: file}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Reload(file); err != nil {
			t.Fatal(err)
		}
		pb := b.(*policyBrain)
		fmt.Printf("reloaded: %d hostnames\n", pb.holder.Load().Stats().Hostnames)
	default:
		t.Fatalf("IPS_MEMTEST_MODE=%q", mode)
	}
}

// TestPolicyMemory loads a 1.5 M-name blocklist in each form, checked and
// reloaded, in child processes, and holds each peak RSS to memTarget.
func TestPolicyMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the child's peak RSS from Linux rusage")
	}
	n := memNames(t)
	dir := t.TempDir()
	for _, form := range []string{"native", "nprobe", "list"} {
		sub := filepath.Join(dir, form)
		os.Mkdir(sub, 0o755)
		file := writeBlocklist(t, sub, form, n)
		for _, mode := range []string{"check", "reload"} {
			t.Run(form+"/"+mode, func(t *testing.T) {
				cmd := exec.Command(os.Args[0], "-test.run=^TestPolicyMemoryHelper$", "-test.v")
				cmd.Env = append(os.Environ(), "IPS_MEMTEST_MODE="+mode, "IPS_MEMTEST_FILE="+file)
				start := time.Now()
				out, err := cmd.CombinedOutput()
				took := time.Since(start)
				if err != nil {
					t.Fatalf("child: %v\n%s", err, tail(out))
				}
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				peak := ru.Maxrss << 10 // Linux reports kilobytes
				t.Logf("%s of %d names (%s form): peak RSS %d MiB in %v", mode, n, form, peak>>20, took.Round(10*time.Millisecond))
				if peak > memTarget {
					t.Errorf("%s of %d names (%s form): peak RSS %d MiB, want ≤ %d MiB", mode, n, form, peak>>20, memTarget>>20)
				}
			})
		}
	}
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}
