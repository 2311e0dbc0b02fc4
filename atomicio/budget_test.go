package atomicio

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
)

// TestBuffersStayInTheBudget: the buffers of reads that miss and of native
// units that are not in one folio come out of CacheSize. Many readers miss
// at once on a slow device while a writer keeps making units with gaps and
// syncing: the heap does not grow by buffers (the old code took a 2 MiB
// buffer per concurrent miss from a sync.Pool and a new buffer per unit per
// pass), the buffers handed out never exceed what was carved out, and the
// cache, the buffers and the COW maps together stay within CacheSize.
func TestBuffersStayInTheBudget(t *testing.T) {
	const cacheSize = 8 << 20 // enough for the COW maps of a 32 MiB device to fit too
	for _, tc := range []struct {
		name   string
		limits blockdev.Limits
		mode   Mode
	}{
		{"cow", blockdev.LimitsNone, ModeCOW},
		{"native", blockdev.LimitsXFS, ModeNative},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, err := blockdev.NewMem(32<<20, tc.limits)
			require.NoError(t, err)
			slow := blockdev.WithFaults(mem, blockdev.OnlyKinds(blockdev.InjectorFunc(func(blockdev.Op) error {
				time.Sleep(200 * time.Microsecond) // readers overlap
				return nil
			}), blockdev.OpRead))
			f, err := OpenDevice(slow, Options{CacheSize: cacheSize, MaxAtomic: 64 << 10, FlushInterval: -1})
			require.NoError(t, err)
			t.Cleanup(func() { _ = f.Abandon() })
			require.Equal(t, tc.mode, f.Mode())
			size := f.Size()

			const readers = 16
			bufs := make([][]byte, readers)
			for r := range bufs {
				bufs[r] = make([]byte, 64<<10)
			}
			wp := pattern(4096, 7)
			written := mem.Stats().BytesWritten
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for r := range readers {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(r), 1))
					p := bufs[r]
					for range 40 {
						n := 4096 << rng.IntN(5)
						off := rng.Int64N(size - int64(n))
						if _, err := f.ReadAt(p[:n], off); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Go(func() {
				p := wp
				for i := range 64 {
					// [6K, 10K) of a 64 KiB stretch: in native mode the unit
					// [0, 16K) around it has pages only the device holds.
					if _, err := WriteAt(f, p, int64(i)<<16+6<<10); err != nil {
						errs <- err
						return
					}
					if i%8 == 7 {
						if err := f.Sync(); err != nil {
							errs <- err
							return
						}
					}
				}
			})
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			// The Mem keeps a copy of every write until the next flush: that
			// is the simulated disk, not the File.
			written = mem.Stats().BytesWritten - written
			heap := int64(after.TotalAlloc-before.TotalAlloc) - written
			t.Logf("heap allocated during the workload: %d bytes besides the Mem's %d", heap, written)
			// What is left is small: bookkeeping, and the wake-up channels of
			// readers that waited for a buffer.
			require.Less(t, heap, int64(1<<20), "I/O buffers come out of the budget, not the heap")

			st := f.Stats()
			t.Logf("cache budget %d, read buffers %+v, unit buffers %+v", st.CacheBudget, st.ReadBuffers, st.UnitBuffers)
			require.Positive(t, st.ReadBuffers.Peak, "misses read into the read buffers")
			require.LessOrEqual(t, st.ReadBuffers.Peak, st.ReadBuffers.Size)
			require.Zero(t, st.ReadBuffers.InUse)
			require.LessOrEqual(t, st.UnitBuffers.Peak, st.UnitBuffers.Size)
			total := st.CacheBudget + st.ReadBuffers.Size + st.UnitBuffers.Size
			if c, ok := f.dev.(*cow.Device); ok {
				total += c.MemoryBytes()
			} else {
				require.Positive(t, st.UnitBuffers.Peak, "native units with gaps are assembled in the unit buffers")
			}
			require.LessOrEqual(t, total, int64(cacheSize))
			require.LessOrEqual(t, st.CacheBytes, st.CacheBudget)
		})
	}
}
