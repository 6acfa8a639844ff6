#!/usr/bin/env bash
# The test command (README): static checks, every test (the kernel tests
# run for real when root, in network namespaces they create and remove),
# and a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== import direction (DESIGN.md §2)"
./scripts/check-deps.sh

echo "== go test"
go test -count=1 -timeout 20m ./...

# The packages whose code runs on several goroutines (queue workers,
# reloads swapping the policy, ctnetlink, the control socket and event
# sink), under the race detector. dpi is left out: each engine belongs to
# one worker and its tests start no goroutines, so -race would only slow
# them; e2e and benchmarks stay out too (-race is 5-10x slower), and so
# does TestPolicyMemory (peak RSS of a 1.5 M-name policy: the race
# detector multiplies memory, so its bound means nothing there). About a
# minute on 2 cores.
echo "== go test -race (concurrent packages)"
go test -race -count=1 -timeout 10m -skip '^TestPolicyMemory$' ./nfq ./policy ./cmd/ips ./pools ./verdict

# Alone, so that its two workers have the machine's cores (inside
# "go test ./..." other packages run beside it): prints the scaling ratio.
echo "== two workers against one (test/scale)"
go test -count=1 -run TestWorkersScale -v ./test/scale

echo "== fuzz (${FUZZTIME:-3s} per target)"
./scripts/fuzz.sh "${FUZZTIME:-3s}"
echo "== all tests passed"
