#!/usr/bin/env bash
# The demo. Builds ips, then:
#  1. classifies the capture the project ships (testdata/captures/demo.pcap:
#     TLS, QUIC, HTTP, DNS, SSH, BitTorrent and ICMP flows recorded between
#     two network namespaces) and judges every flow against
#     examples/policies/demo.json, printing one line per flow with the
#     verdict and why;
#  2. as root, runs ips inline for real: it builds a LAN host, a bridge and
#     a WAN host in throwaway network namespaces, starts "ips run" on the
#     bridge with a policy that drops hostname blocked.example and
#     BitTorrent, and has real clients (Go's TLS and HTTP, quic-go, DNS, a
#     BitTorrent handshake) try their servers across it;
#  3. as root, shapes: a policy that throttles BitTorrent to 4 Mbit/s per
#     pool, with BitTorrent-led TCP streams up and down from several LAN
#     hosts and an unshaped download beside them, each measured.
# Nothing leaves the machine; the namespaces are removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
if ! command -v go >/dev/null; then
  echo "demo: Go 1.26 or newer is needed (https://go.dev/doc/install)" >&2
  exit 1
fi
mkdir -p bin
go build -o bin/ips ./cmd/ips
echo "== 1. offline: bin/ips replay --format table --policy examples/policies/demo.json testdata/captures/demo.pcap"
bin/ips replay --format table --policy examples/policies/demo.json testdata/captures/demo.pcap
echo
if [ "$(id -u)" != 0 ]; then
  echo "== 2. inline: skipped (run as root to see ips drop flows on a live bridge in network namespaces)"
  exit 0
fi
missing=""
for c in ip nft conntrack; do command -v $c >/dev/null || missing="$missing $c"; done
if [ -n "$missing" ]; then
  echo "== 2. inline: skipped: missing$missing (apt-get install -y iproute2 nftables conntrack)"
else
echo "== 2. inline: LAN host ── br0 (ips run) ── WAN host, policy: drop hostname blocked.example and BitTorrent"
go test -count=1 -v -run '^TestPolicyEndToEnd$' ./test/e2e 2>&1 |
  sed -n -e 's/^ *policy_test.go:[0-9]*: //p' -e '/^--- /p' -e '/^ok\|^FAIL/p'
fi
echo
if ! command -v tc >/dev/null; then
  echo "== 3. shaping: skipped: missing tc (apt-get install -y iproute2)"
  exit 0
fi
echo "== 3. shaping: policy: BitTorrent shape:bt, 4 Mbit/s per pool (and a shaper per \"all\" and one per host); measured where the bytes arrive"
go test -count=1 -v -run '^TestShapingEndToEnd$' ./test/e2e 2>&1 |
  sed -n -e 's/^ *shaping_test.go:[0-9]*: RESULT //p' -e 's/^ *shaping_test.go:[0-9]*: \(  .*\)/\1/p' -e '/^--- /p' -e '/^ok\|^FAIL/p'
