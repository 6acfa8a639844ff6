package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"ips/dpi"
)

// Flow-table sizing for "ips run --max-flows".
//
// A flow costs the most while it is still being inspected: its Flow
// record, its inspection scratch (dissector state), the policy worker's
// side-table entry and its share of the index. Measured in that state
// (unclassified UDP, TestFlowMemoryFlood in dpi plus the worker's entry)
// it is about 1.1 KiB; floodFlowBytes rounds up for runtime overhead.
// The default table gets memFraction of the machine's memory at that
// cost, within [minDefaultFlows, maxDefaultFlows]: 24 GiB gives 196,608
// flows (≈ 200 MiB at worst), a 512 MiB router 4,096.
const (
	floodFlowBytes  = 1024
	memFraction     = 128 // 1/128 of MemTotal
	minDefaultFlows = 4096
	maxDefaultFlows = 1 << 20
)

// defaultMaxFlows is the --max-flows default for a machine with memTotal
// bytes of memory (0: unknown, the minimum).
func defaultMaxFlows(memTotal uint64) int {
	n := memTotal / memFraction / floodFlowBytes
	return int(max(minDefaultFlows, min(n, maxDefaultFlows)))
}

// memTotal reads MemTotal from /proc/meminfo, in bytes (0 if unknown).
func memTotal() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// perQueueFlows splits a total flow bound over the queue workers (each
// has its own table; the kernel spreads flows over the queues).
func perQueueFlows(total, queues int) int {
	return max(16, (total+queues-1)/max(queues, 1))
}

func checkMaxFlows(total, queues int) error {
	if total < 0 {
		return fmt.Errorf("--max-flows %d: want a positive number of flows, or 0 for the default", total)
	}
	if total > 0 && perQueueFlows(total, queues) > dpi.MaxTableFlows {
		return fmt.Errorf("--max-flows %d: at most %d per queue (%d queues)", total, dpi.MaxTableFlows, queues)
	}
	return nil
}

// Go's soft memory limit, set from the flow bound.
//
// The garbage collector lets the heap grow to twice what was live after
// its last cycle (GOGC=100), which is right for a program whose live
// memory is steady, but a flow table filling up under a flood is live
// memory that only grows: measured, the daemon's peak RSS was 1.5× its
// live heap in a 1 M-flow flood. A soft limit at what the bounded state
// can need makes the collector work harder near it instead of doubling:
// the policy as loaded (measured after each load), plus every flow slot
// at flowLimitBytes, plus a margin. It is soft: past it the collector
// takes at most half the CPU and the heap grows, so a state larger than
// foreseen costs CPU, never a crash. GOMEMLIMIT, when set, wins.
const (
	flowLimitBytes = 1536     // per flow slot: TestFlowMemoryFlood's 893 B plus the worker's entry, index and runtime slack
	limitMargin    = 16 << 20 // buffers, goroutine stacks, event queues
)

// memoryLimit is the soft limit for a daemon whose heap holds base bytes
// with no flow, and maxFlows flow slots in all.
func memoryLimit(base uint64, maxFlows int) int64 {
	return int64(base + uint64(maxFlows)*flowLimitBytes + limitMargin)
}

// setMemoryLimit measures the heap with the policy just loaded and sets
// the soft limit for maxFlows; it returns the limit, or 0 when the
// operator set GOMEMLIMIT.
func setMemoryLimit(maxFlows int) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	limit := memoryLimit(ms.HeapAlloc, maxFlows)
	debug.SetMemoryLimit(limit)
	return limit
}
