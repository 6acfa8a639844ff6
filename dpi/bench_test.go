package dpi_test

import (
	"io"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"ips/dpi"
	"ips/dpi/capture"
)

type frame struct {
	link dpi.LinkType
	ts   int64
	data []byte
}

// loadFrames reads captures into memory so benchmarks measure the engine,
// not the disk.
func loadFrames(tb testing.TB, globs ...string) []frame {
	var out []frame
	for _, g := range globs {
		paths, _ := filepath.Glob(g)
		for _, path := range paths {
			r, err := capture.Open(path)
			if err != nil {
				tb.Fatal(err)
			}
			for {
				data, link, ts, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					tb.Fatal(err)
				}
				out = append(out, frame{link, ts, append([]byte(nil), data...)})
			}
			r.Close()
		}
	}
	if len(out) == 0 {
		tb.Skip("no captures found")
	}
	return out
}

// replayer runs frames through one engine again and again, shifting time
// by an hour per round so every round's flows are new: the steady state of
// a gateway that keeps seeing new connections of known kinds.
type replayer struct {
	e      *dpi.Engine
	frames []frame
	p      dpi.Packet
	round  int64
}

func (r *replayer) run() {
	r.round++
	shift := r.round * 3600e9
	for i := range r.frames {
		f := &r.frames[i]
		if r.p.Decode(f.link, f.data) != nil {
			continue
		}
		r.e.Process(&r.p, f.ts+shift)
	}
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	frames := loadFrames(t, "../testdata/captures/*.pcap")
	r := &replayer{e: dpi.NewEngine(dpi.Config{}), frames: frames}
	for range 3 { // warm up: pools, interned strings, caches
		r.run()
	}
	if n := testing.AllocsPerRun(5, r.run); n != 0 {
		t.Fatalf("a round of %d packets (new flows each round) allocates %.0f times", len(frames), n)
	}
}

func BenchmarkEngine(b *testing.B) {
	frames := loadFrames(b, "../testdata/captures/*.pcap")
	r := &replayer{e: dpi.NewEngine(dpi.Config{}), frames: frames}
	r.run()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r.run()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(frames)), "ns/packet")
	b.ReportMetric(0, "ns/op")
}

// TestFlowMemory floods the engine with distinct classified flows and
// checks what one costs on the heap.
func TestFlowMemory(t *testing.T) {
	const flows = 100_000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	// The engine's fixed costs (the index sized for MaxFlows, pools) count.
	e := dpi.NewEngine(dpi.Config{MaxFlows: flows, Catalog: dpi.NewCatalogBuilder(true).Build()})
	var p dpi.Packet
	// ICMP echo requests from distinct addresses: one packet classifies
	// each flow.
	b := []byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 0, 192, 0, 2, 1, 8, 0, 0, 0, 0, 1, 0, 1}
	for i := range flows {
		b[13], b[14], b[15] = byte(i>>16), byte(i>>8), byte(i)
		if err := p.DecodeIP(b); err != nil {
			t.Fatal(err)
		}
		e.Process(&p, int64(i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := e.Stats().Active; n != flows {
		t.Fatalf("%d flows in the table, want %d", n, flows)
	}
	per := float64(after.HeapAlloc-before.HeapAlloc) / flows
	t.Logf("%.0f bytes of heap per classified flow (Flow struct %d bytes)", per, unsafe.Sizeof(dpi.Flow{}))
	if per > 512 {
		t.Errorf("a classified flow costs %.0f bytes, want ≤ 512", per)
	}
	runtime.KeepAlive(e)
}

// TestFlowMemoryFlood is TestFlowMemory in the state a flood leaves flows
// in: UDP flows of one packet each, with a payload no dissector
// recognises, so every flow stays inspecting and keeps its scratch (the
// dissectors' per-flow state). This is the figure flow-table bounds are
// sized by.
func TestFlowMemoryFlood(t *testing.T) {
	const flows = 100_000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	e := dpi.NewEngine(dpi.Config{MaxFlows: flows, Catalog: dpi.NewCatalogBuilder(true).Build()})
	var p dpi.Packet
	// IPv4 UDP 10.x.y.z:10000 → 192.0.2.1:9999, 64 bytes of payload
	// (what test/tools/udpload sends: a timestamp, then zeros).
	b := make([]byte, 28+64)
	copy(b, []byte{0x45, 0, 0, 92, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 0, 192, 0, 2, 1, 0x27, 0x10, 0x27, 0x0f, 0, 72, 0, 0})
	for i := 28; i < 36; i++ {
		b[i] = byte(i * 37)
	}
	for i := range flows {
		b[13], b[14], b[15] = byte(i>>16), byte(i>>8), byte(i)
		if err := p.DecodeIP(b); err != nil {
			t.Fatal(err)
		}
		if f, _ := e.Process(&p, int64(i)); f.Result.State != dpi.Inspecting {
			t.Fatalf("flow %d is %v, want inspecting", i, f.Result.State)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if st := e.Stats(); st.Active != flows || st.ScratchesAllocated != flows {
		t.Fatalf("%d flows, %d scratches, want %d each", st.Active, st.ScratchesAllocated, flows)
	}
	per := float64(after.HeapAlloc-before.HeapAlloc) / flows
	t.Logf("%.0f bytes of heap per flow in the flood state (inspecting, with scratch)", per)
	if per > 1024 {
		t.Errorf("a flow in the flood state costs %.0f bytes, want ≤ 1024", per)
	}
	runtime.KeepAlive(e)
}
