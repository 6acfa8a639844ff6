package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"ips/policy"
)

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "auto", "policy format: auto, nprobe (nProbe IPS / nFW lines) or native")
	geoip := fs.String("geoip", "", "GeoIP location .mmdb: GeoIP2/GeoLite2 City or Country, DB-IP lite, IPinfo lite, ip-location-db (replaces the policy's geoip setting)")
	geoipASN := fs.String("geoip-asn", "", "GeoIP ASN .mmdb: GeoLite2-ASN, DB-IP ASN lite, ip-location-db asn (replaces the policy's geoip setting)")
	markMask := fs.String("mark-mask", "", "mark mask the markers must fit (default 0x00ff0000)")
	catalogFiles := fs.String("catalog", "", "comma-separated extra catalog files (nDPI protos.txt syntax)")
	convert := fs.Bool("convert", false, "print the policy in the native format (canonical names) on standard output")
	quiet := fs.Bool("q", false, "print only problems")
	lanPorts := fs.String("lan", "", "with shapers: the LAN `IFACE[,IFACE]` of ips run, to check (as root, in its namespace) that a port can be shaped")
	wanPorts := fs.String("wan", "", "with shapers: the WAN `IFACE[,IFACE]` of ips run")
	takeOver := fs.Bool("take-over-qdisc", false, "with --lan/--wan: as ips run --take-over-qdisc")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: ips check [flags] FILE

Validate a policy (nProbe IPS format or ips's native format). Every problem
is printed as file:line:col: message, warnings too; the exit status is 1
when there is any error. With --convert, the policy is printed in the
native format.

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
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	opt, err := policyOptions(*format, *geoip, *geoipASN, *markMask, *catalogFiles)
	if err != nil {
		fmt.Fprintf(stderr, "ips check: %v\n", err)
		return 2
	}
	path := fs.Arg(0)
	var rep *policy.Report
	var set *policy.Set
	var out []byte
	if *convert {
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			fmt.Fprintf(stderr, "%s: cannot read the policy: %v\n", path, rerr)
			return 1
		}
		out, rep, err = policy.Convert(path, data, opt)
	} else {
		set, rep, err = policy.Load(path, opt)
	}
	var el policy.ErrorList
	var warns []policy.Diagnostic
	if rep != nil {
		warns = rep.Warnings
	}
	if err != nil && !errors.As(err, &el) {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
	}
	// The first policy.MaxShown problems, then a count of the rest.
	for _, line := range policy.Problems(el, warns) {
		fmt.Fprintln(stderr, line)
	}
	if err != nil {
		n := len(el)
		if n == 0 {
			n = 1
		}
		fmt.Fprintf(stderr, "%s: %d error(s), %d warning(s)\n", path, n, len(rep.Warnings))
		return 1
	}
	if *convert {
		stdout.Write(out)
		return 0
	}
	if set != nil {
		checkShaping(path, set, opt.MarkMask, splitList(*lanPorts), splitList(*wanPorts), *takeOver, *quiet, stdout, stderr)
	}
	if !*quiet {
		fmt.Fprintf(stdout, "%s: ok (%s format): %d pools (%d entries), %d policies, %d rules, %d hostnames, %d shapers; GeoIP: %s",
			path, rep.Format, rep.Pools, rep.PoolEntries, rep.Policies, rep.Rules, rep.Hostnames, rep.Shapers, rep.GeoIP)
		if len(rep.CustomProtocols) > 0 {
			fmt.Fprintf(stdout, "; custom protocols: %s", strings.Join(rep.CustomProtocols, ", "))
		}
		fmt.Fprintf(stdout, "; %d warning(s)\n", len(rep.Warnings))
		for _, l := range geoipLines(set.Geo()) {
			fmt.Fprintln(stdout, l)
		}
	}
	return 0
}

// policyOptions turns the policy flags shared by check and replay into
// LoadOptions.
func policyOptions(format, geoip, geoipASN, markMask, catalogFiles string) (policy.LoadOptions, error) {
	var opt policy.LoadOptions
	f, ok := policy.ParseFormat(format)
	if !ok {
		return opt, fmt.Errorf("--format %q: want auto, nprobe or native", format)
	}
	opt.Format, opt.GeoIP, opt.GeoIPASN = f, geoip, geoipASN
	if markMask != "" {
		m, err := strconv.ParseUint(markMask, 0, 32)
		if err != nil {
			return opt, fmt.Errorf("--mark-mask %q: want a 32-bit number such as 0x00ff0000", markMask)
		}
		opt.MarkMask = uint32(m)
	}
	if catalogFiles != "" {
		opt.CatalogFiles = strings.Split(catalogFiles, ",")
	}
	return opt, nil
}
