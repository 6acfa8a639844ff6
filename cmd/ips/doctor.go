package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"ips/nfq"
	"ips/verdict"
)

// cmdDoctor probes the kernel for what "ips run" needs and prints each
// check with the fix for what is missing.
func cmdDoctor(args []string, stdout, stderr io.Writer) int {
	var cfg runConfig
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "read --lan, --wan, --queues, --queue-base and --mark-mask from the run config `FILE`")
	cleanup := fs.Bool("cleanup", false, "remove the nftables tables inet ips and netdev ips (left by a crash or a fail-closed stop), put the ports' qdiscs back as they were before ips shaped them (from the state file in --state-dir), and exit")
	noBind := fs.Bool("no-bind", false, "do not try to bind the queues")
	cfg.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: ips doctor [flags]

Check the kernel for everything "ips run" needs, with the configuration's
interfaces and queues, and print each check with the fix for what is
missing. Run it in the network namespace ips will run in. Exit status 1
when a required check fails.

Flags (the run flags that matter here, plus):
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *cleanup {
		status := 0
		removed, err := nfq.RemoveTable()
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "ips doctor: %v\n", err)
			status = 1
		case removed:
			fmt.Fprintln(stdout, "removed nftables table inet ips: traffic is no longer queued")
		default:
			fmt.Fprintln(stdout, "no nftables table inet ips: nothing to remove")
		}
		if status == 0 {
			status = cleanupShaping(cfg.StateDir, stdout, stderr)
		}
		return status
	}
	if *config != "" {
		if err := loadRunConfig(*config, &cfg); err != nil {
			fmt.Fprintf(stderr, "ips doctor: %v\n", err)
			return 2
		}
	}
	layout, _ := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	if m, err := strconv.ParseUint(cfg.MarkMask, 0, 32); err == nil {
		if l, err := verdict.NewMarkLayout(uint32(m)); err == nil {
			layout = l
		}
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stdout, "note: not root; most checks need CAP_NET_ADMIN and will fail")
	}
	dg, err := nfq.Diagnose(cfg.LAN, cfg.WAN, layout, uint16(cfg.QueueBase), cfg.Queues, !*noBind)
	if err != nil {
		fmt.Fprintf(stderr, "ips doctor: %v\n", err)
		return 1
	}
	status := 0
	line := func(ok bool, required bool, name, detail, fix string) {
		mark := "ok  "
		if !ok {
			mark = "warn"
			if required {
				mark = "FAIL"
				status = 1
			}
		}
		fmt.Fprintf(stdout, "%s  %s: %s\n", mark, name, detail)
		if !ok {
			fmt.Fprintf(stdout, "      fix: %s\n", fix)
		}
	}
	switch {
	case len(cfg.LAN) == 0 || len(cfg.WAN) == 0:
		line(false, false, "interfaces", "no --lan/--wan given: bridge checks skipped", "pass the --lan and --wan of ips run (or --config)")
	case dg.PortsErr != nil:
		line(false, true, "interfaces", dg.PortsErr.Error(), "name existing interfaces: bridge ports or routed interfaces, not the bridge itself")
	default:
		for _, p := range dg.Ports {
			kind := "routed interface (iifname/oifname)"
			if p.BridgePort {
				kind = "port of bridge " + p.Bridge
			}
			line(true, true, "interface "+p.Name, kind, "")
		}
	}
	for _, p := range dg.Probes {
		line(p.OK, p.Required, p.Name, p.Detail, p.Fix)
	}
	fmt.Fprintf(stdout, "info  fail mode %s: %s\n", cfg.Fail, failNote(cfg.Fail))
	if dg.TablePresent {
		fmt.Fprintln(stdout, "info  nftables table inet ips is present (a running ips, or left by a crash or fail-closed stop; ips doctor --cleanup removes it)")
	}
	for _, q := range dg.Queues {
		fmt.Fprintf(stdout, "info  queue %d bound by netlink port %d: waiting %d, dropped %d (queue full), user-dropped %d (socket full)\n",
			q.Queue, q.PortID, q.Waiting, q.Dropped, q.UserDropped)
	}
	fmt.Fprintf(stdout, "info  %d conntrack entries carry a decision under mask %#08x\n", dg.Decided, layout.Mask())
	if cfg.Policy != "" {
		doctorShaping(&cfg, line, stdout)
	}
	return status
}

func failNote(s string) string {
	m, err := verdict.ParseFailMode(s)
	if err != nil {
		return err.Error()
	}
	return nfq.FailModeNote(m)
}
