//go:build linux

// Package harness builds the end-to-end test bench: network namespaces for
// a LAN host, a bridge host and a WAN host, helpers to run code and
// commands inside them, and the servers and clients the acceptance tests
// use. Everything it creates, it removes.
package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// RequireRoot skips the test unless it runs as root (network namespaces,
// nftables and NFQUEUE need CAP_NET_ADMIN and CAP_SYS_ADMIN).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, nftables tables and NFQUEUE listeners (CI runs it as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip command")
	}
}

// NS is a named network namespace (as `ip netns` knows it).
type NS struct {
	Name string
}

// Do runs fn on a locked OS thread switched into the namespace. Sockets
// created inside fn stay in the namespace wherever they are used later.
func (ns NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: if switching back failed it must
		// die with the goroutine rather than serve others in the wrong
		// namespace. The runtime ends a locked thread when its goroutine
		// exits.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		f, err := os.Open("/run/netns/" + ns.Name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.Name, err)
			return
		}
		err = fn()
		if e := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); e == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// Cmd builds a command that runs inside the namespace.
func (ns NS) Cmd(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs a command in the namespace and returns its combined output.
func (ns NS) Run(name string, args ...string) (string, error) {
	var out bytes.Buffer
	c := ns.Cmd(name, args...)
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), ns.Name, err, out.String())
	}
	return out.String(), nil
}

// MustRun is Run that fails the test on error.
func (ns NS) MustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := ns.Run(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func newNS(name string) (NS, error) {
	_ = run("ip", "netns", "del", name) // a leftover of a killed run
	if err := run("ip", "netns", "add", name); err != nil {
		return NS{}, err
	}
	ns := NS{Name: name}
	// Loopback up, and no IPv6 duplicate address detection delay.
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"},
		{"sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"},
	} {
		if _, err := ns.Run(c[0], c[1:]...); err != nil {
			return ns, err
		}
	}
	return ns, nil
}

func (ns NS) remove() error { return run("ip", "netns", "del", ns.Name) }
