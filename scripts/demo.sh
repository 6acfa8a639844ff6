#!/usr/bin/env bash
# The demo: builds ips, then classifies the capture the project ships
# (testdata/captures/demo.pcap: TLS, QUIC, HTTP, DNS, SSH, BitTorrent and
# ICMP flows recorded between two network namespaces) and prints one line
# per flow. Needs nothing from the network.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
if ! command -v go >/dev/null; then
  echo "demo: Go 1.26 or newer is needed (https://go.dev/doc/install, or the golang package of a recent Debian)" >&2
  exit 1
fi
mkdir -p bin
go build -o bin/ips ./cmd/ips
echo "== ips replay --format table testdata/captures/demo.pcap"
bin/ips replay --format table testdata/captures/demo.pcap
