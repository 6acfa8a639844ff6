package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"ips/dpi"
	"ips/dpi/capture"
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
	cb := dpi.NewCatalogBuilder(false)
	if *catalogFiles != "" {
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

	w := bufio.NewWriterSize(stdout, 1<<16)
	defer w.Flush()
	out := newFlowWriter(w, *format)
	status := 0
	for _, path := range fs.Args() {
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
		if err := replayFile(path, eng); err != nil {
			fmt.Fprintf(stderr, "ips replay: %v\n", err)
			status = 1
		}
		eng.Flush()
	}
	out.close()
	return status
}

// replayFile feeds every packet of a capture to the engine. On a read
// error the packets read so far stay in the engine, so their flows are
// still reported.
func replayFile(path string, eng *dpi.Engine) error {
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
		eng.Process(&p, ts)
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
		fmt.Fprintln(fw.table, "PROTO\tCLIENT\tSERVER\tAPPLICATION\tCATEGORY\tHOSTNAME\tPKTS\tBYTES\tSTATE\tRISKS\tVERDICT")
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
		fmt.Fprintf(fw.table, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n",
			r.Protocol, joinHostPort(r.SrcIP, r.SrcPort), joinHostPort(r.DstIP, r.DstPort),
			r.ApplicationName, r.CategoryName, dash(r.RequestedServerName),
			r.Src2DstPackets+r.Dst2SrcPackets, r.Src2DstBytes+r.Dst2SrcBytes, r.DPIState,
			dash(strings.Join(r.Risks, ",")), verdict)
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
