package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"ips/dpi"
	"ips/dpi/capture"
	"ips/policy"
)

func cmdReplay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "json", "output format: json (one object per flow, NDJSON) or table")
	tcpBudget := fs.Int("tcp-packets", 10, "TCP packets inspected per flow before giving up")
	udpBudget := fs.Int("udp-packets", 16, "UDP packets inspected per flow before giving up")
	idle := fs.Duration("idle-timeout", 30*time.Second, "end a flow idle this long (capture time)")
	active := fs.Duration("active-timeout", 300*time.Second, "report a flow active this long and restart its counters")
	maxFlows := fs.Int("max-flows", 1<<18, "flow table bound (oldest idle flow evicted)")
	catalogFiles := fs.String("catalog", "", "comma-separated extra catalog files (nDPI protos.txt syntax)")
	policyFile := fs.String("policy", "", "judge every flow with this policy (nProbe or native format); adds verdict, policy_id, pool and explain")
	geoip := fs.String("geoip", "", "GeoIP2/GeoLite2 City or Country .mmdb for the policy (replaces its geoip setting)")
	geoipASN := fs.String("geoip-asn", "", "GeoIP2/GeoLite2 ASN .mmdb for the policy (replaces its geoip setting)")
	lanList := fs.String("lan", "", "comma-separated LAN prefixes: a flow's pool is that of its endpoint inside them (default: the private endpoint, else the client)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ips replay [flags] PCAP...\n\nClassify pcap/pcapng captures offline; prints one JSON object per flow when it ends.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if *format != "json" && *format != "table" {
		fmt.Fprintf(stderr, "ips replay: --format %q: want json or table\n", *format)
		return 2
	}
	lan, err := parsePrefixes(*lanList)
	if err != nil {
		fmt.Fprintf(stderr, "ips replay: --lan: %v\n", err)
		return 2
	}
	var set *policy.Set
	if *policyFile != "" {
		opt, err := policyOptions("auto", *geoip, *geoipASN, "", *catalogFiles)
		if err != nil {
			fmt.Fprintf(stderr, "ips replay: %v\n", err)
			return 2
		}
		var rep *policy.Report
		set, rep, err = policy.Load(*policyFile, opt)
		if rep != nil {
			for _, w := range rep.Warnings {
				fmt.Fprintln(stderr, w)
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	cb := dpi.NewCatalogBuilder(false)
	if *catalogFiles != "" && set == nil {
		for _, name := range strings.Split(*catalogFiles, ",") {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintf(stderr, "ips replay: %v\n", err)
				return 1
			}
			err = cb.AddRules(name, f)
			f.Close()
			if err != nil {
				fmt.Fprintf(stderr, "ips replay: %v\n", err)
				return 1
			}
		}
	}
	cat := cb.Build()
	if set != nil {
		cat = set.Catalog() // the policy's catalog: ours plus its custom protocols
	}

	w := bufio.NewWriterSize(stdout, 1<<16)
	defer w.Flush()
	out := newFlowWriter(w, *format)
	status := 0
	for _, path := range fs.Args() {
		cfg := dpi.Config{
			MaxFlows: *maxFlows, IdleTimeout: *idle, ActiveTimeout: *active,
			TCPBudget: *tcpBudget, UDPBudget: *udpBudget, Catalog: cat,
		}
		if set != nil {
			if err := replayPolicy(path, cfg, set, lan, out); err != nil {
				fmt.Fprintf(stderr, "ips replay: %v\n", err)
				status = 1
			}
			continue
		}
		eng := dpi.NewEngine(dpi.Config{
			MaxFlows: *maxFlows, IdleTimeout: *idle, ActiveTimeout: *active,
			TCPBudget: *tcpBudget, UDPBudget: *udpBudget, Catalog: cat,
			OnEnd: func(f *dpi.Flow, why dpi.EndReason) {
				rec := newRecord(f, cat)
				if why == dpi.EndActive {
					rec.End = why.String()
				}
				out.write(&rec)
			},
		})
		if err := replayFile(path, func(p *dpi.Packet, ts int64) { eng.Process(p, ts) }); err != nil {
			fmt.Fprintf(stderr, "ips replay: %v\n", err)
			status = 1
		}
		eng.Flush()
	}
	out.close()
	return status
}

// replayPolicy replays a capture through a policy worker, the daemon's
// Decider, and prints each flow with its decision.
func replayPolicy(path string, cfg dpi.Config, set *policy.Set, lan []netip.Prefix, out *flowWriter) error {
	holder := &policy.Holder{}
	holder.Store(set)
	var w *policy.Worker
	cfg.OnEnd = func(f *dpi.Flow, why dpi.EndReason) {
		rec := newRecord(f, set.Catalog())
		if why == dpi.EndActive {
			rec.End = why.String()
		}
		d := w.Decision(f)
		rec.setDecision(d)
		rec.Shaper = set.ShaperOf(d)
		out.write(&rec)
	}
	w = policy.NewWorker(policy.WorkerConfig{Engine: cfg, Policy: holder, LAN: lan}, nil)
	err := replayFile(path, func(p *dpi.Packet, ts int64) { w.ProcessDecoded(p, ts) })
	w.Flush()
	return err
}

// parsePrefixes reads a comma-separated list of prefixes or addresses.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a prefix nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// replayFile feeds every packet of a capture to fn. On a read error the
// packets read so far stay in the engine, so their flows are still
// reported.
func replayFile(path string, fn func(p *dpi.Packet, ts int64)) error {
	r, err := capture.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	var p dpi.Packet
	for {
		data, link, ts, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if p.Decode(link, data) != nil {
			continue
		}
		fn(&p, ts)
	}
}

type flowWriter struct {
	w     *bufio.Writer
	enc   *json.Encoder
	table *tabwriter.Writer
}

func newFlowWriter(w *bufio.Writer, format string) *flowWriter {
	fw := &flowWriter{w: w}
	if format == "table" {
		fw.table = tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
		fmt.Fprintln(fw.table, "PROTO\tCLIENT\tSERVER\tAPPLICATION\tCATEGORY\tHOSTNAME\tPKTS\tBYTES\tSTATE\tRISKS\tVERDICT\tWHY")
	} else {
		fw.enc = json.NewEncoder(w)
		fw.enc.SetEscapeHTML(false)
	}
	return fw
}

func (fw *flowWriter) write(r *flowRecord) {
	if fw.table != nil {
		verdict := r.Verdict
		if verdict == "" {
			verdict = "-"
		}
		if r.Shaper != "" {
			verdict += ":" + r.Shaper
		}
		if r.Enforced != nil && !*r.Enforced {
			verdict += " (monitor)" // would-be verdict; the flow passes
		}
		fmt.Fprintf(fw.table, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n",
			r.Protocol, joinHostPort(r.SrcIP, r.SrcPort), joinHostPort(r.DstIP, r.DstPort),
			r.ApplicationName, r.CategoryName, dash(r.RequestedServerName),
			r.Src2DstPackets+r.Dst2SrcPackets, r.Src2DstBytes+r.Dst2SrcBytes, r.DPIState,
			dash(strings.Join(r.Risks, ",")), verdict, dash(r.Explain))
		return
	}
	fw.enc.Encode(r)
}

func (fw *flowWriter) close() {
	if fw.table != nil {
		fw.table.Flush()
	}
}

func joinHostPort(ip string, port uint16) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", ip, port)
	}
	return fmt.Sprintf("%s:%d", ip, port)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
