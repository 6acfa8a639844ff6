//go:build linux

package harness

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// ProcStatus is the memory a process uses, from /proc/PID/status.
type ProcStatus struct {
	// VmHWM is the peak resident set size, VmRSS the current one (bytes).
	VmHWM, VmRSS uint64
}

// ReadProcStatus reads the memory lines of /proc/PID/status.
func ReadProcStatus(pid int) (ProcStatus, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcStatus{}, err
	}
	defer f.Close()
	var s ProcStatus
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch k {
		case "VmHWM":
			dst = &s.VmHWM
		case "VmRSS":
			dst = &s.VmRSS
		default:
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/%d/status %s: %w", pid, k, err)
		}
		*dst = kb << 10
	}
	return s, sc.Err()
}

// PID is the daemon's process id ("ip netns exec" execs the command, so
// the process started is ips itself).
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Memory reads the daemon's /proc status; it fails the test when the
// process is gone.
func (d *Daemon) Memory(tb testing.TB) ProcStatus {
	tb.Helper()
	s, err := ReadProcStatus(d.PID())
	if err != nil {
		tb.Fatalf("ips process: %v", err)
	}
	return s
}
