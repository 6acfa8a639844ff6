#!/usr/bin/env bash
# Regenerates the small captures under testdata/captures: real Go clients
# and servers talk between two network namespaces this script creates (and
# removes), and tcpdump records the server side. Needs root, tcpdump and
# mergecap (wireshark-common). Traffic never leaves the namespaces.
set -euo pipefail
[ -n "${TRACE:-}" ] && set -x
cd "$(dirname "$0")/.."
out=testdata/captures
[ "$(id -u)" = 0 ] || { echo "make-captures: needs root (network namespaces)" >&2; exit 1; }
command -v tcpdump >/dev/null || { echo "make-captures: apt-get install -y tcpdump" >&2; exit 1; }
command -v mergecap >/dev/null || { echo "make-captures: apt-get install -y wireshark-common" >&2; exit 1; }

bin=$(mktemp -d)
go build -o "$bin/capgen" ./test/capgen
C=ipscap-c S=ipscap-s
cleanup() {
  pkill -f "$bin/capgen" 2>/dev/null || true
  ip netns del $C 2>/dev/null || true
  ip netns del $S 2>/dev/null || true
  rm -rf "$bin"
}
trap cleanup EXIT
cleanup_ns() { ip netns del $C 2>/dev/null || true; ip netns del $S 2>/dev/null || true; }
cleanup_ns
ip netns add $C
ip netns add $S
ip link add ipscap0 netns $C type veth peer name ipscap1 netns $S
ip -n $C addr add 10.99.0.1/24 dev ipscap0
ip -n $S addr add 10.99.0.2/24 dev ipscap1
ip -n $C addr add fd00:99::1/64 dev ipscap0 nodad
ip -n $S addr add fd00:99::2/64 dev ipscap1 nodad
for ns in $C $S; do ip -n $ns link set lo up; done
ip -n $C link set ipscap0 up
ip -n $S link set ipscap1 up

scenarios="${SCENARIOS:-tls13 tls12 youtube http http6 dns dnslearn quic ssh bittorrent unknown icmp}"
n=10
for s in $scenarios; do
  n=$((n + 1))
  srv=10.99.0.$n
  ip -n $S addr add $srv/24 dev ipscap1
  [ $s = http6 ] && srv=fd00:99::2
  ip netns exec $S tcpdump -Z root -i ipscap1 -s 0 -U --immediate-mode -w "$out/$s.pcap" 'tcp or udp or icmp or (icmp6 and ip6[40] < 133)' 2>"$bin/dump.log" &
  dump=$!
  # Wait until tcpdump is really listening (slow to start on a busy machine).
  for _ in $(seq 100); do grep -q listening "$bin/dump.log" 2>/dev/null && break; sleep 0.1; done
  if [ $s = icmp ]; then
    ip netns exec $C ping -c 2 -i 0.2 -q $srv >/dev/null
  else
    ip netns exec $S "$bin/capgen" serve $s $srv &
    sp=$!
    sleep 1
    ip netns exec $C "$bin/capgen" client $s $srv
    sleep 0.3
    kill $sp 2>/dev/null || true
    wait $sp 2>/dev/null || true
  fi
  sleep 0.3
  kill $dump; wait $dump 2>/dev/null || true; [ -n "${TRACE:-}" ] && cat "$bin/dump.log"
  echo "$out/$s.pcap: $(tcpdump -r "$out/$s.pcap" 2>/dev/null | wc -l) packets"
done
mergecap -a -w "$out/demo.pcap" $(for s in $scenarios; do echo "$out/$s.pcap"; done)
echo "$out/demo.pcap: $(tcpdump -r "$out/demo.pcap" 2>/dev/null | wc -l) packets"
