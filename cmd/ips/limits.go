package main

import (
	"bufio"
	"fmt"
	"os"
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
