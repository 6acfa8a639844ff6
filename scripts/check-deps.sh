#!/usr/bin/env bash
# Keeps the packages that must stay pure (no kernel, testable without root)
# free of the netlink/netfilter/tc libraries, and enforces DESIGN.md's import
# direction between our own packages.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
kernel='github.com/florianl/go-nfqueue|github.com/google/nftables|github.com/mdlayher/netlink|github.com/florianl/go-tc'
for pkg in ./dpi/... ./pools/... ./policy/... ./verdict/... ./internal/...; do
  [ -n "$(go list $pkg 2>/dev/null)" ] || continue
  for p in $(go list $pkg); do
    if go list -deps "$p" | grep -Eq "^($kernel)"; then
      echo "$p imports a kernel library: $(go list -deps "$p" | grep -E "^($kernel)" | tr '\n' ' ')"; fail=1
    fi
  done
done
# Allowed imports of ours, per package (arrows of DESIGN.md §2; internal/
# holds leaf utilities any package may use).
check() { # pkg allowed-regex
  for p in $(go list "$1" 2>/dev/null); do
    for d in $(go list -f '{{join .Imports "\n"}}' "$p" | grep -E '^ips(/|$)' || true); do
      echo "$d" | grep -Eq "^($2)(/|$)" || { echo "$p imports $d (not allowed)"; fail=1; }
    done
  done
}
check ./verdict/... 'ips/internal'
check ./dpi/... 'ips/dpi|ips/internal'
check ./pools/... 'ips/pools|ips/internal'
check ./policy/... 'ips/policy|ips/dpi|ips/pools|ips/verdict|ips/internal'
check ./nfq/... 'ips/nfq|ips/verdict|ips/internal'
check ./shaping/... 'ips/shaping|ips/verdict|ips/internal'
exit $fail
