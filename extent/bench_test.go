package extent

import (
	"runtime"
	"sync"
	"testing"
)

// The benchmark layout: benchSlots slots of benchStride bytes. Slot j holds two
// 4 KiB ranges with a 4 KiB gap between them, A at j*benchStride and B 8 KiB
// further, so the fixture holds 2*benchSlots = 1,048,576 ranges. The rest of
// each slot is free for ranges a benchmark adds.
const (
	benchSlots  = 1 << 19
	benchStride = 1 << 20
	benchBatch  = 4096 // operations between two untimed restores; divides benchSlots
	kib         = 1 << 10
)

// slotOf maps the i-th operation to a slot. Multiplying by an odd constant is a
// bijection modulo a power of two, so the slots of any benchSlots consecutive
// operations (in particular of one batch) are distinct and scattered.
func slotOf(i int) int64 { return int64(uint32(i)*0x9E3779B1) & (benchSlots - 1) }

// slotA and slotB are the two ranges slot j holds in the fixture.
func slotA(j int64) (off, end int64) { return j * benchStride, j*benchStride + 4*kib }
func slotB(j int64) (off, end int64) { return j*benchStride + 8*kib, j*benchStride + 12*kib }

// buildBench returns a Set holding the benchmark layout, built in scattered
// slot order, or in ascending order when ascending is set.
func buildBench(ascending bool) (*Set, error) {
	s := New()
	for i := range benchSlots {
		j := int64(i)
		if !ascending {
			j = slotOf(i)
		}
		for _, add := range []func(int64) (int64, int64){slotA, slotB} {
			if _, err := s.Add(add(j)); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// benchFixtureOnce builds the 1M-range Set shared by the benchmarks, once.
// Every benchmark leaves it holding the same ranges it found.
var benchFixtureOnce = sync.OnceValues(func() (*Set, error) { return buildBench(false) })

// benchFixture returns the shared 1M-range Set.
func benchFixture(b *testing.B) *Set {
	s, err := benchFixtureOnce()
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// heapInUse returns the bytes of live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func BenchmarkBuild1M(b *testing.B) {
	for _, order := range []struct {
		name      string
		ascending bool
	}{{"scattered", false}, {"ascending", true}} {
		b.Run(order.name, func(b *testing.B) {
			b.ReportAllocs()
			var perRange float64
			for b.Loop() {
				b.StopTimer()
				before := heapInUse()
				b.StartTimer()
				s, err := buildBench(order.ascending)
				b.StopTimer()
				benchMust(b, err)
				perRange = float64(heapInUse()-before) / float64(s.Len())
				runtime.KeepAlive(s)
				b.StartTimer()
			}
			b.ReportMetric(perRange, "B/range")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(2*benchSlots), "ns/range")
		})
	}
}

// accessOrder is the order in which a benchmark visits the slots: random
// (scattered, nearly every operation misses the CPU caches) or ascending (the
// order of writeback; the path to the next slot is mostly cached).
type accessOrder struct {
	name string
	slot func(i int) int64 // the slot of the i-th operation
}

var accessOrders = []accessOrder{
	{"random", slotOf},
	{"ascending", func(i int) int64 { return int64(i) & (benchSlots - 1) }},
}

// benchBatches runs op once per b.Loop iteration in every access order, as
// sub-benchmarks. After every benchBatch operations it calls restore, untimed,
// with the slots of that batch; prepare, when set, runs untimed before each
// batch with its slots. Both orders give distinct slots within a batch.
func benchBatches(b *testing.B, prepare, restore func(slots []int64), op func(k int, j int64)) {
	for _, order := range accessOrders {
		b.Run(order.name, func(b *testing.B) {
			runBatches(b, order, prepare, restore, op)
		})
	}
}

// runBatches is benchBatches for one access order.
func runBatches(b *testing.B, order accessOrder, prepare, restore func(slots []int64), op func(k int, j int64)) {
	b.ReportAllocs()
	slots := make([]int64, benchBatch)
	next := func(start int) {
		for k := range slots {
			slots[k] = order.slot(start + k)
		}
		if prepare != nil {
			prepare(slots)
		}
	}
	next(0)
	i := 0
	for b.Loop() {
		k := i % benchBatch
		op(k, slots[k])
		i++
		if k == benchBatch-1 {
			b.StopTimer()
			if restore != nil {
				restore(slots)
			}
			next(i)
			b.StartTimer()
		}
	}
	if restore != nil {
		restore(slots[:i%benchBatch])
	}
}

// benchMust fails b on err.
func benchMust(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}

func BenchmarkAdd(b *testing.B) {
	s := benchFixture(b)
	b.Run("isolated", func(b *testing.B) {
		// A new range in the free part of a slot: no overlap, no neighbour.
		restore := func(slots []int64) {
			for _, j := range slots {
				r, _ := s.Get(j*benchStride + 64*kib)
				s.Remove(r)
			}
		}
		benchBatches(b, nil, restore, func(_ int, j int64) {
			_, err := s.Add(j*benchStride+64*kib, j*benchStride+68*kib)
			benchMust(b, err)
		})
	})
	b.Run("merge2", func(b *testing.B) {
		// A range bridging A and B: the two merge into one.
		restore := func(slots []int64) {
			for _, j := range slots {
				r, _ := s.Get(j * benchStride)
				s.Remove(r)
				_, err := s.Add(slotA(j))
				benchMust(b, err)
				_, err = s.Add(slotB(j))
				benchMust(b, err)
			}
		}
		benchBatches(b, nil, restore, func(_ int, j int64) {
			_, err := s.Add(j*benchStride+2*kib, j*benchStride+10*kib)
			benchMust(b, err)
		})
	})
	b.Run("inside", func(b *testing.B) {
		// A write inside A: bounds stay, generation changes.
		benchBatches(b, nil, nil, func(_ int, j int64) {
			_, err := s.Add(j*benchStride+1*kib, j*benchStride+2*kib)
			benchMust(b, err)
		})
	})
	if s.Len() != 2*benchSlots {
		b.Fatalf("fixture holds %d ranges after the benchmark, want %d", s.Len(), 2*benchSlots)
	}
}

func BenchmarkRemove(b *testing.B) {
	s := benchFixture(b)
	current := make([]Range, benchBatch)
	b.Run("currentGen", func(b *testing.B) {
		prepare := func(slots []int64) {
			for k, j := range slots {
				current[k], _ = s.Get(j * benchStride)
			}
		}
		restore := func(slots []int64) {
			for _, j := range slots {
				_, err := s.Add(slotA(j))
				benchMust(b, err)
			}
		}
		benchBatches(b, prepare, restore, func(k int, _ int64) {
			if !s.Remove(current[k]) {
				b.Fatal("Remove refused a current range")
			}
		})
	})
	b.Run("staleGen", func(b *testing.B) {
		benchBatches(b, nil, nil, func(_ int, j int64) {
			off, end := slotA(j)
			if s.Remove(Range{Off: off, End: end}) {
				b.Fatal("Remove accepted a stale range")
			}
		})
	})
	if s.Len() != 2*benchSlots {
		b.Fatalf("fixture holds %d ranges after the benchmark, want %d", s.Len(), 2*benchSlots)
	}
}

func BenchmarkQuery(b *testing.B) {
	s := benchFixture(b)
	b.Run("Get", func(b *testing.B) {
		benchBatches(b, nil, nil, func(_ int, j int64) {
			if _, ok := s.Get(j*benchStride + 100); !ok {
				b.Fatal("Get missed")
			}
		})
	})
	b.Run("GetMiss", func(b *testing.B) {
		benchBatches(b, nil, nil, func(_ int, j int64) {
			if _, ok := s.Get(j*benchStride + 5*kib); ok {
				b.Fatal("Get hit a gap")
			}
		})
	})
	b.Run("Overlapping2", func(b *testing.B) {
		benchBatches(b, nil, nil, func(_ int, j int64) {
			n := 0
			s.Overlapping(j*benchStride+2*kib, j*benchStride+10*kib, func(Range) bool {
				n++
				return true
			})
			if n != 2 {
				b.Fatalf("Overlapping visited %d ranges, want 2", n)
			}
		})
	})
	b.Run("UnionIfAdded2", func(b *testing.B) {
		benchBatches(b, nil, nil, func(_ int, j int64) {
			_, n, err := s.UnionIfAdded(j*benchStride+2*kib, j*benchStride+10*kib)
			benchMust(b, err)
			if n != 2 {
				b.Fatalf("UnionIfAdded merges %d ranges, want 2", n)
			}
		})
	})
}
