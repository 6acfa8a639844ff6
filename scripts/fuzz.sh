#!/usr/bin/env bash
# Runs every fuzz target for a short time (default 3s each): CI's smoke run.
# Longer runs: scripts/fuzz.sh 10m
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-3s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for fn in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' "$dir"/*_test.go 2>/dev/null | sed -E 's/func (Fuzz[A-Za-z0-9_]+).*/\1/'); do
    echo "-- $pkg $fn"
    go test -run '^$' -fuzz "^$fn\$" -fuzztime "$t" "$pkg" >/tmp/fuzz.$$.log 2>&1 || { cat /tmp/fuzz.$$.log; exit 1; }
  done
done
rm -f /tmp/fuzz.$$.log
