#!/usr/bin/env bash
# Whole-process replay speed of ips against Debian's ndpiReader, side by
# side on the same file: the Ethernet captures of the nDPI conformance set
# joined into one (mergecap -a). Prints both times and the ratio.
#   scripts/bench-replay.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shared=${IPS_CONFORMANCE:-../shared/conformance/ndpi}
command -v mergecap >/dev/null || { echo "apt-get install -y wireshark-common" >&2; exit 1; }
command -v ndpiReader >/dev/null || { echo "apt-get install -y libndpi-bin" >&2; exit 1; }
export PATH=$PATH:/usr/local/go/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ips" ./cmd/ips
eth=()
for f in "$shared"/pcap/*; do
  if capinfos -E "$f" 2>/dev/null | grep -q 'Ethernet$'; then eth+=("$f"); fi
done
mergecap -a -F pcap -w "$tmp/merged.pcap" "${eth[@]}" 2>/dev/null
pkts=$(capinfos -c -M "$tmp/merged.pcap" | awk '/Number of packets/ {print $NF}')
echo "merged ${#eth[@]} Ethernet captures: $pkts packets, $(du -h "$tmp/merged.pcap" | cut -f1)"
best() { # command... → best wall time of $runs runs, in ms
  local b=999999999
  for _ in $(seq "$runs"); do
    local s e
    s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
    local ms=$(( (e - s) / 1000000 ))
    [ $ms -lt $b ] && b=$ms
  done
  echo $b
}
# Warm the page cache for both.
cat "$tmp/merged.pcap" >/dev/null
ndpi=$(best ndpiReader -i "$tmp/merged.pcap" -q)
ips=$(best "$tmp/ips" replay "$tmp/merged.pcap")
echo "ndpiReader -i merged.pcap -q : ${ndpi} ms (best of $runs)"
echo "ips replay merged.pcap        : ${ips} ms (best of $runs)"
awk -v a="$ndpi" -v b="$ips" 'BEGIN { printf "ips is %.2fx the speed of ndpiReader (time ratio ndpiReader/ips)\n", a/b }'
