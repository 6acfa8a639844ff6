package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"ips/dpi"
)

func cmdProtocols(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("protocols", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "table", "output format: table or json")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ips protocols [--format table|json]\n\nList the protocols, categories and flow risks with nDPI's ids and names.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	type proto struct {
		ID       int    `json:"id"`
		Name     string `json:"name"`
		Category string `json:"category"`
		Breed    string `json:"breed"`
	}
	type category struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	type risk struct {
		ID       int    `json:"id"`
		Name     string `json:"name"`
		Enum     string `json:"enum"`
		Severity string `json:"severity"`
		Score    int    `json:"score"`
	}
	var reg struct {
		Protocols  []proto    `json:"protocols"`
		Categories []category `json:"categories"`
		Risks      []risk     `json:"risks"`
	}
	for i := 0; i < dpi.NumProtocols; i++ {
		p := dpi.ProtoID(i)
		reg.Protocols = append(reg.Protocols, proto{i, p.String(), p.Category().String(), p.Breed().String()})
	}
	cats := dpi.CategoryNames()
	ids := make([]int, 0, len(cats))
	for id := range cats {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	for _, id := range ids {
		reg.Categories = append(reg.Categories, category{id, cats[dpi.CategoryID(id)]})
	}
	for i := 1; i < dpi.RiskIDLimit; i++ {
		r := dpi.RiskID(i)
		if !r.Valid() {
			continue // ids between nDPI's and ips's own
		}
		reg.Risks = append(reg.Risks, risk{i, r.String(), r.Enum(), r.Severity().String(), r.Score()})
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(reg)
	case "table":
		tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "PROTOCOLS\nID\tNAME\tCATEGORY\tBREED")
		for _, p := range reg.Protocols {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", p.ID, p.Name, p.Category, p.Breed)
		}
		fmt.Fprintln(tw, "\nCATEGORIES\nID\tNAME")
		for _, c := range reg.Categories {
			fmt.Fprintf(tw, "%d\t%s\n", c.ID, c.Name)
		}
		fmt.Fprintln(tw, "\nRISKS\nID\tNAME\tENUM\tSEVERITY\tSCORE")
		for _, r := range reg.Risks {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\n", r.ID, r.Name, r.Enum, r.Severity, r.Score)
		}
		tw.Flush()
	default:
		fmt.Fprintf(stderr, "ips protocols: --format %q: want table or json\n", *format)
		return 2
	}
	return 0
}
