package policy

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"ips/internal/tcpcraft"
	"ips/verdict"
)

// fragmentRecords re-cuts the records of a TLS stream into records of n
// body bytes (RFC 8446 §5.1: a handshake message may span any records).
func fragmentRecords(stream []byte, n int) []byte {
	var body []byte
	for len(stream) >= 5 {
		l := int(binary.BigEndian.Uint16(stream[3:]))
		body = append(body, stream[5:5+l]...)
		stream = stream[5+l:]
	}
	var out []byte
	for len(body) > 0 {
		k := min(n, len(body))
		out = append(out, 22, 3, 1, byte(k>>8), byte(k))
		out = append(out, body[:k]...)
		body = body[k:]
	}
	return out
}

// TestWorkerNameSpellings: every way of spelling the name that a server
// still reads (record-fragmented ClientHellos, a large one, HTTP Host
// variants and absolute-form targets), sent with every packet trick of
// tcpcraft, is dropped for the blocked name and never for the allowed
// one, through a worker as the queue hands packets over.
func TestWorkerNameSpellings(t *testing.T) {
	const blocked, allowed = "blocked.example", "allowed.example"
	s := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass",
	  "markers": {"hostnames": {"blocked.example": "drop"}}}]}`, LoadOptions{})
	http := func(f func(h string) string) func(string) []byte {
		return func(h string) []byte { return []byte(f(h)) }
	}
	for _, sp := range []struct {
		name, port string
		msg        func(string) []byte
	}{
		{"TLS in 1-byte records", "443", func(h string) []byte { return fragmentRecords(tcpcraft.ClientHello(h, 0), 1) }},
		{"TLS in 5-byte records", "443", func(h string) []byte { return fragmentRecords(tcpcraft.ClientHello(h, 0), 5) }},
		{"6 KB TLS in 700-byte records", "443", func(h string) []byte { return fragmentRecords(tcpcraft.ClientHello(h, 6000), 700) }},
		{"SNI in capitals with a dot", "443", func(h string) []byte { return tcpcraft.ClientHello(strings.ToUpper(h)+".", 0) }},
		{"hOsT with tabs, port and dot", "80", http(func(h string) string {
			return "GET / HTTP/1.1\r\nhOsT:\t" + strings.ToUpper(h) + ".:80\t\r\nUser-Agent: curl/8\r\n\r\n"
		})},
		{"absolute-form over a decoy Host", "80", http(func(h string) string {
			return "GET http://" + h + "/ HTTP/1.1\r\nHost: decoy.example\r\nUser-Agent: curl/8\r\n\r\n"
		})},
		{"folded Host, bare LF", "80", http(func(h string) string {
			return "GET / HTTP/1.1\nHost:\n " + h + "\nUser-Agent: curl/8\n\n"
		})},
	} {
		for _, tr := range tcpcraft.Tricks {
			for _, names := range [][2]string{{blocked, allowed}, {allowed, blocked}} {
				real, decoy := names[0], names[1]
				t.Run(fmt.Sprintf("%s/%s/%s", sp.name, tr.Name, real), func(t *testing.T) {
					c := tcpcraft.New("192.168.1.10:40000", "198.51.100.7:"+sp.port)
					first := runTrick(t, s, tr.Packets(c, sp.msg(real), sp.msg(decoy)))
					switch {
					case real == blocked && (first == nil || first.Action != verdict.Drop):
						t.Errorf("blocked name: first final decision %v, want drop", first)
					case real == allowed && first != nil && first.Action != verdict.Pass:
						t.Errorf("allowed name: final decision %v (%s)", first.Action, first.Explain())
					}
				})
			}
		}
	}
}
