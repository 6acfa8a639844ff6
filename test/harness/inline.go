//go:build linux

package harness

import (
	"testing"

	"ips/nfq"
	"ips/verdict"
)

// StartInline runs the inline path in-process in the bridge namespace:
// every socket nfq opens is created there, so the workers can run on any
// thread. It is stopped when the test ends (and the table removed in
// either fail mode, so the namespace is left clean).
func (t *Topology) StartInline(tb testing.TB, cfg nfq.Config) *nfq.Daemon {
	tb.Helper()
	if len(cfg.LAN) == 0 {
		cfg.LAN = []string{t.LANPort}
	}
	if len(cfg.WAN) == 0 {
		cfg.WAN = []string{t.WANPort}
	}
	var d *nfq.Daemon
	err := t.Bridge.Do(func() (err error) {
		d, err = nfq.Start(cfg)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		d.Stop()
		if cfg.Fail == verdict.FailClosed {
			t.Bridge.Do(func() error { _, err := nfq.RemoveTable(); return err })
		}
	})
	return d
}

// Conntrack dumps the bridge namespace's conntrack entries.
func (t *Topology) Conntrack(tb testing.TB) []nfq.Conn {
	tb.Helper()
	var out []nfq.Conn
	err := t.Bridge.Do(func() error {
		c, err := nfq.OpenConntrack()
		if err != nil {
			return err
		}
		defer c.Close()
		out, err = c.Dump(0, 0)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
