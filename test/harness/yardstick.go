//go:build linux

package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	cOnce sync.Once
	cPath string
	cErr  error
)

// NfqacceptC returns the C yardstick consumer (../shared/tools/nfqaccept-c),
// from $NFQACCEPT_C, /tmp/nfqaccept-c, or built from its source with gcc
// and libnetfilter_queue. The test is skipped when none is possible.
func NfqacceptC(t testing.TB) string {
	t.Helper()
	cOnce.Do(func() {
		for _, p := range []string{os.Getenv("NFQACCEPT_C"), "/tmp/nfqaccept-c"} {
			if p != "" {
				if _, err := os.Stat(p); err == nil {
					cPath = p
					return
				}
			}
		}
		src := os.Getenv("NFQACCEPT_C_SRC")
		if src == "" {
			top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
			if err != nil {
				cErr = fmt.Errorf("cannot find the repository: %v", err)
				return
			}
			src = filepath.Join(strings.TrimSpace(string(top)), "..", "shared", "tools", "nfqaccept-c", "nfqaccept.c")
		}
		dir, err := os.MkdirTemp("", "nfqaccept-c")
		if err != nil {
			cErr = err
			return
		}
		cPath = filepath.Join(dir, "nfqaccept-c")
		out, err := exec.Command("gcc", "-O2", "-o", cPath, src, "-lnetfilter_queue").CombinedOutput()
		if err != nil {
			cErr = fmt.Errorf("build %s (apt-get install -y gcc libnetfilter-queue-dev): %v: %s", src, err, out)
		}
	})
	if cErr != nil {
		t.Skipf("no nfqaccept-c yardstick: %v", cErr)
	}
	return cPath
}

// Yardstick is a running nfqaccept-c.
type Yardstick struct {
	cmd *exec.Cmd
	out strings.Builder
}

// StartYardstick runs nfqaccept-c on queue num in the namespace.
func (ns NS) StartYardstick(t testing.TB, num int) *Yardstick {
	t.Helper()
	y := &Yardstick{cmd: ns.Cmd(NfqacceptC(t), strconv.Itoa(num))}
	y.cmd.Stdout, y.cmd.Stderr = &y.out, &y.out
	if err := y.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // bound and configured
	return y
}

// Stop ends it and returns the packets it handled.
func (y *Yardstick) Stop() (uint64, error) {
	y.cmd.Process.Signal(syscall.SIGTERM)
	y.cmd.Wait()
	for _, line := range strings.Split(y.out.String(), "\n") {
		if n, ok := strings.CutPrefix(line, "packets "); ok {
			return strconv.ParseUint(strings.TrimSpace(n), 10, 64)
		}
	}
	return 0, fmt.Errorf("nfqaccept-c printed no count: %q", y.out.String())
}
