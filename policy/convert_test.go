package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ips/dpi"
)

// TestConvertNProbeExample: the nProbe example converted to the native
// format loads without warnings and decides every flow exactly as the
// original, explanations included.
func TestConvertNProbeExample(t *testing.T) {
	loc, asn := sampleGeo(t)
	opt := LoadOptions{GeoIP: loc, GeoIPASN: asn}
	data, err := os.ReadFile("../examples/policies/nprobe-example.conf")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := Convert("../examples/policies/nprobe-example.conf", data, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"CPHA": "pass"`, `"parent": 1`, `"192.168.0.0/24"`, `"2a03:b0c0:2::/48"`, `"NUMERIC_IP_HOST": "drop"`, `"Asia": "drop"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("converted policy lacks %s:\n%s", want, out)
		}
	}
	orig := loadExample(t)
	conv, rep, err := Parse(filepath.Join(t.TempDir(), "conv.json"), out, LoadOptions{})
	if err != nil {
		t.Fatalf("the converted policy does not load:\n%v\n%s", err, out)
	}
	if rep.Format != FormatNative || len(rep.Warnings) != 0 {
		t.Errorf("format %v, warnings:\n%s", rep.Format, diagnostics(nil, rep))
	}
	risky := withRisks(classified(dpi.ProtoHTTP, 0, ""), dpi.RiskNumericIPHost)
	results := []dpi.Result{
		classified(dpi.ProtoHTTP, 0, "x"), classified(dpi.ProtoTLS, dpi.ProtoGoogle, "www.gstatic.com"),
		classified(dpi.ProtoQUIC, dpi.ProtoNetFlix, ""), classified(dpi.ProtoCPHA, 0, ""), classified(dpi.ProtoSSH, 0, ""),
		classified(dpi.ProtoTLS, 0, "fundingchoicesmessages.google.com"), risky, partial(dpi.ProtoTLS, 0, "", dpi.FieldApp),
	}
	n := 0
	for _, local := range []string{"10.1.2.3", "172.16.5.5", "131.114.9.9", "198.51.100.7", "2a03:b0c0:2::9"} {
		for _, remote := range []string{"7.1.1.1", "5.1.1.1", "6.1.1.1", "2.3.4.5"} {
			for _, r := range results {
				f := flow{local: local, remote: remote, r: r}
				a, b := orig.Evaluate(f.input()), conv.Evaluate(f.input())
				if a != b {
					t.Errorf("%s → %s %s: original %+v, converted %+v", local, remote, r.AppName(), a, b)
				}
				n++
			}
		}
	}
	if n != 160 {
		t.Fatalf("%d comparisons", n)
	}
}
