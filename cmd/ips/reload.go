package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// cmdReload asks the running daemon, over its control socket, to reload
// its policy, and prints what it says. The exit status is 1 when the new
// policy was refused (the old one stays in force) or the daemon cannot be
// reached.
func cmdReload(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	control := fs.String("control", defaultControl, "control socket `PATH` of the running ips (its --control)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: ips reload [--control PATH]

Make the running "ips run" load its policy file again: parse, validate and
compile it, swap it in atomically, then re-judge already decided flows and
rewrite their conntrack marks (so a new drop rule cuts existing
connections). A file with errors is refused and the old policy stays in
force; the errors are printed. Sending SIGHUP to the daemon does the same,
with the outcome in its log.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	return controlCommand(*control, "reload", stdout, stderr)
}

// controlCommand sends one command and copies the answer; the last line
// says ok or error.
func controlCommand(path, cmd string, stdout, stderr io.Writer) int {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "ips %s: cannot reach the daemon at %s: %v (is ips run running? its --control?)\n", cmd, path, err)
		return 1
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
		fmt.Fprintf(stderr, "ips %s: %v\n", cmd, err)
		return 1
	}
	status := 0
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "error:") {
			status = 1
			fmt.Fprintln(stderr, line)
			continue
		}
		fmt.Fprintln(stdout, line)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "ips %s: %v\n", cmd, err)
		return 1
	}
	return status
}
