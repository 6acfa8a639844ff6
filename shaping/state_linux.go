//go:build linux

package shaping

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	tc "github.com/florianl/go-tc"
)

// DefaultStateDir is where the state file lives unless configured.
const DefaultStateDir = "/run/ips"

// stateFile is what the ports had before ips shaped them, written before
// the first change so that a crash (kill -9) can be undone by
// "ips doctor --cleanup". One file per network namespace, named by the
// namespace's inode, so daemons in different namespaces never share one.
type stateFile struct {
	Version int         `json:"version"`
	Ports   []savedPort `json:"ports"`
}

// savedPort is one port: its name and index, and the root qdisc we took
// over (nil: the kernel's default, which comes back by itself when our
// root is deleted).
type savedPort struct {
	Name    string     `json:"name"`
	Ifindex uint32     `json:"ifindex"`
	Foreign *tc.Object `json:"foreign,omitempty"`
}

func (s *stateFile) port(name string) *savedPort {
	for i := range s.Ports {
		if s.Ports[i].Name == name {
			p := s.Ports[i]
			return &p
		}
	}
	return nil
}

// statePath names the state file of the calling thread's network
// namespace.
func statePath(dir string) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return "", fmt.Errorf("network namespace: %w", err)
	}
	return filepath.Join(dir, fmt.Sprintf("shaping-netns-%d.json", st.Ino)), nil
}

func readState(path string) (*stateFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s stateFile
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return &s, nil
}

// writeState replaces the file atomically (rename), synced, so that it
// is complete whenever a qdisc of ours exists.
func writeState(path string, s *stateFile) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if _, err := f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

func removeState(path string) { _ = os.Remove(path) }

// Cleanup undoes what a dead ips left on the ports of the calling
// thread's network namespace, from its state file: our HTB roots are
// deleted and root qdiscs we took over put back. It reports each port it
// restored; no state file means nothing to do.
func Cleanup(dir string, log *slog.Logger) ([]string, error) {
	if dir == "" {
		dir = DefaultStateDir
	}
	path, err := statePath(dir)
	if err != nil {
		return nil, err
	}
	st, err := readState(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := tc.Open(&tc.Config{})
	if err != nil {
		return nil, fmt.Errorf("rtnetlink (tc): %w", err)
	}
	defer t.Close()
	var done []string
	var errs []error
	for i := range st.Ports {
		if err := restorePort(t, &st.Ports[i]); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, st.Ports[i].Name)
	}
	if len(errs) == 0 {
		removeState(path)
	}
	return done, errors.Join(errs...)
}
