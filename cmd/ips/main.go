// Command ips is an inline intrusion-prevention system for Linux gateways:
// it classifies every flow with its own DPI engine, matches it against a
// JSON policy, and lets the kernel carry every decided flow.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `ips: inline intrusion prevention with deep packet inspection

Usage:
  ips replay [flags] PCAP...   classify captures offline, one JSON object per flow
                               (--policy FILE adds each flow's verdict and why)
  ips check [flags] FILE       validate a policy; --convert prints it in the native format
  ips protocols [--format F]   list the protocol, category and risk registry
  ips run [flags]              run inline on a bridge or router (NFQUEUE, needs root)
  ips reload [--control PATH]  make the running daemon reload its policy
  ips doctor [flags]           check the kernel for what ips run needs, with fixes
  ips status [--json]          ask the running daemon how it is doing
  ips flows [--json] [filters] list the running daemon's live decided flows with real byte counts
  ips version                  print the version and the VCS revision of the build
  ips help                     this text

Run "ips COMMAND --help" for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "replay":
		return cmdReplay(rest, stdout, stderr)
	case "protocols":
		return cmdProtocols(rest, stdout, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "run":
		return cmdRun(rest, stdout, stderr)
	case "reload":
		return cmdReload(rest, stdout, stderr)
	case "doctor":
		return cmdDoctor(rest, stdout, stderr)
	case "status":
		return cmdStatus(rest, stdout, stderr)
	case "flows":
		return cmdFlows(rest, stdout, stderr)
	case "version", "--version":
		return cmdVersion(rest, stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "ips: unknown command %q\n\n%s", cmd, usage)
	return 2
}
