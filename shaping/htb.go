package shaping

import (
	"math"

	tc "github.com/florianl/go-tc"
)

// HTB parameters. Rates are given in bits per second and sent to the
// kernel in bytes per second: in the 32-bit rate field up to 4 GB/s and
// in TCA_HTB_RATE64 / TCA_HTB_CEIL64 beyond (100 Gbit/s is 12.5 GB/s).
// Burst and cburst are the bytes a class may send at once above its rate
// or ceil; the kernel takes them as a time at that rate ("buffer", in
// psched ticks of 64 ns). The quantum (bytes per round when classes
// borrow) is set explicitly, because the kernel's rate/r2q default is
// tiny at low rates and huge at line rate.
const (
	mtu        = 1514
	tickNanos  = 64 // PSCHED_TICKS2NS: a psched tick is 64 ns
	maxQuantum = 200000
	minQuantum = 2 * mtu
	// burstTime is the burst a class gets at its rate: 10 ms, at least
	// two full frames.
	burstMillis = 10
	r2q         = 10
)

// burstBytes is the burst of a class at rate bps.
func burstBytes(bps uint64) uint64 {
	return max(bps/8*burstMillis/1000, 2*mtu)
}

// bufferTicks is the time, in psched ticks, that burst bytes take at bps.
func bufferTicks(bps, burst uint64) uint32 {
	Bps := float64(bps) / 8
	t := float64(burst) / Bps * 1e9 / tickNanos
	if t > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(max(t, 1))
}

func quantum(bps uint64) uint32 {
	q := bps / 8 / r2q
	return uint32(min(max(q, minQuantum), maxQuantum))
}

// htbClass is the HTB options of a class with rate and ceil in bit/s.
//
// tc class add dev DEV parent 1:P classid 1:M htb rate R ceil C burst B cburst CB quantum Q
func htbClass(rate, ceil uint64) *tc.Htb {
	ceil = max(ceil, rate)
	rB, cB := rate/8, ceil/8
	opt := &tc.HtbOpt{
		Rate:    tc.RateSpec{Rate: uint32(min(rB, math.MaxUint32))},
		Ceil:    tc.RateSpec{Rate: uint32(min(cB, math.MaxUint32))},
		Buffer:  bufferTicks(rate, burstBytes(rate)),
		Cbuffer: bufferTicks(ceil, burstBytes(ceil)),
		Quantum: quantum(rate),
	}
	h := &tc.Htb{Parms: opt}
	if rB >= math.MaxUint32 {
		h.Rate64 = &rB
	}
	if cB >= math.MaxUint32 {
		h.Ceil64 = &cB
	}
	return h
}

// htbRoot is the root qdisc's options: unclassified traffic goes to the
// default class.
//
// tc qdisc replace dev DEV root handle 1: htb default fffe r2q 10
func htbRoot() *tc.Htb {
	dq := uint32(1000)
	return &tc.Htb{Init: &tc.HtbGlob{Version: 3, Rate2Quantum: r2q, Defcls: MinorDefault}, DirectQlen: &dq}
}
