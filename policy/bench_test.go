package policy

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"ips/dpi"
	"ips/verdict"
)

// bigPolicy is a policy of 1,000 pools (a /24 each), 201 policies in a
// three-level tree and 10,000 hostnames, with protocol, category and
// risk rules, and with geo also country, continent and ASN rules.
func bigPolicy(tb testing.TB, geo bool) *Set {
	loc, asn := sampleGeo(tb)
	geoRules := ""
	if geo {
		geoRules = `"countries": {"CN": "drop"}, "continents": {"Asia": 4}, "asn": {"15169": 5},`
	}
	var b strings.Builder
	b.WriteString(`{"version": 1, "pools": [`)
	for i := 0; i < 1000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name": "p%d", "ip": ["10.%d.%d.0/24"], "policy": %d}`, i, i/256, i%256, 1+i%200)
	}
	b.WriteString(`], "policies": [{"id": 0, "default_marker": "pass", "markers": {
	  "protocols": {"Tor": "drop", "BitTorrent": "drop", "TLS.YouTube": "shape:slow"},
	  "categories": {"Malware": "drop", "Video": 3},
	  ` + geoRules + `
	  "risks": {"MALWARE_HOST_CONTACTED": "drop"}, "hostnames": {`)
	host := 0
	for i := 0; i < 2000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"site%05d.example.com": "drop"`, host)
		host++
	}
	b.WriteString(`}}}`)
	for id := 1; id <= 200; id++ {
		parent := 0
		if id > 100 {
			parent = id - 100
		}
		fmt.Fprintf(&b, `, {"id": %d, "parent": %d, "default_marker": "%s", "markers": {"protocols": {"SSH": "drop"}, "hostnames": {`,
			id, parent, []string{"pass", "drop"}[id%2])
		for i := 0; i < 40; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"site%05d.example.com": "%s"`, host, []string{"pass", "drop"}[i%2])
			host++
		}
		b.WriteString(`}}}`)
	}
	b.WriteString(`], "shapers": [{"name": "slow", "rate": "1mbit"}]}`)
	s, rep, err := Parse("big.json", []byte(b.String()), LoadOptions{GeoIP: loc, GeoIPASN: asn})
	if err != nil {
		tb.Fatal(err)
	}
	if rep.Pools != 1000 || rep.Hostnames != 10000 || rep.Policies != 201 {
		tb.Fatalf("report %+v", rep)
	}
	return s
}

func benchInputs() []Input {
	rng := rand.New(rand.NewPCG(1, 2))
	remotes := []string{"7.1.1.1", "5.1.1.1", "2.3.4.5", "8.8.8.8", "9.9.9.9", "198.51.100.1"}
	protos := [][2]dpi.ProtoID{{dpi.ProtoTLS, 0}, {dpi.ProtoTLS, dpi.ProtoYouTube}, {dpi.ProtoQUIC, dpi.ProtoGoogle}, {dpi.ProtoHTTP, 0}, {dpi.ProtoSSH, 0}}
	var in []Input
	for i := 0; i < 4096; i++ {
		p := protos[rng.IntN(len(protos))]
		host := fmt.Sprintf("www.site%05d.example.com", rng.IntN(20000)) // half match
		if rng.IntN(4) == 0 {
			host = ""
		}
		r := classified(p[0], p[1], host)
		n := rng.IntN(1000)
		in = append(in, Input{Result: &r, Local: addr(fmt.Sprintf("10.%d.%d.%d", n/256, n%256, 1+rng.IntN(250))), Remote: addr(remotes[rng.IntN(len(remotes))])})
	}
	return in
}

// BenchmarkEvaluate: the pool lookup and the judgement, per flow.
func BenchmarkEvaluate(b *testing.B) { benchEvaluate(b, false) }

// BenchmarkEvaluateGeoIP adds GeoIP rules: two database lookups per flow.
func BenchmarkEvaluateGeoIP(b *testing.B) { benchEvaluate(b, true) }

func benchEvaluate(b *testing.B, geo bool) {
	s := bigPolicy(b, geo)
	in := benchInputs()
	for i := range in { // warm the GeoIP record cache
		s.Evaluate(&in[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Evaluate(&in[i&4095])
		i++
	}
}

// BenchmarkJudge: the judgement alone, as the worker calls it for each
// queued packet once the flow's hosts are resolved.
func BenchmarkJudge(b *testing.B) {
	s := bigPolicy(b, true)
	in := benchInputs()
	hs := make([]Host, len(in))
	for i := range in {
		hs[i] = s.Resolve(in[i].Local, in[i].LocalMAC, false, in[i].Remote)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Judge(&hs[i&4095], in[i&4095].Result)
		i++
	}
}

func BenchmarkLoadBig(b *testing.B) {
	for b.Loop() {
		bigPolicy(b, true)
	}
}

func TestEvaluateAllocs(t *testing.T) {
	s := bigPolicy(t, true)
	in := benchInputs()
	for i := range in {
		s.Evaluate(&in[i])
	}
	i := 0
	if n := testing.AllocsPerRun(4096, func() { s.Evaluate(&in[i&4095]); i++ }); n != 0 {
		t.Errorf("Evaluate allocates %v times per flow", n)
	}
	// Not final results take the finality walk too.
	r := partial(dpi.ProtoTLS, 0, "www.site00007.example.com", dpi.FieldHostname|dpi.FieldApp)
	h := s.Resolve(addr("10.0.5.5"), [6]byte{}, false, addr("7.1.1.1"))
	if n := testing.AllocsPerRun(1000, func() { s.Judge(&h, &r) }); n != 0 {
		t.Errorf("Judge of a partial result allocates %v times", n)
	}
}

// BenchmarkWorkerDecide: one queued packet through decode, the engine and
// the policy, over 1,000 live flows under the big policy.
func BenchmarkWorkerDecide(b *testing.B) {
	s := bigPolicy(b, true)
	h := &Holder{}
	h.Store(s)
	w := NewWorker(WorkerConfig{Policy: h}, nil)
	var pkts [][]byte
	for i := 0; i < 1000; i++ {
		pkts = append(pkts, ipPacket(fmt.Sprintf("10.%d.%d.9", i/256, i%256), "7.1.1.1", dpi.IPProtoUDP, udpDgram(uint16(20000+i), 3478, []byte("0123456789abcdef"))))
	}
	var p verdict.Packet
	now := int64(1_700_000_000e9)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		now += 1000
		p = verdict.Packet{Data: pkts[i%1000], Time: now, From: verdict.SideLAN}
		w.Decide(&p)
		i++
	}
}
