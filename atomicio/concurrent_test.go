package atomicio

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestConcurrentWritersReadersSync: goroutines write untorn and plain
// data into their own regions (unaligned, overlapping within a region),
// read back what they wrote, while another goroutine Syncs and the
// background flusher runs. Every read must see the writer's latest data;
// after a crash clone taken after the last Sync, every region must hold
// its last synced content. Run with -race: this is the engine's locking
// under load.
func TestConcurrentWritersReadersSync(t *testing.T) {
	t.Parallel()
	for _, l := range []blockdev.Limits{blockdev.LimitsXFS, blockdev.LimitsNone} {
		t.Run(fmt.Sprint(l.AtomicMax), func(t *testing.T) {
			f, mem := openMem(t, 8<<20, l, Options{CacheSize: 1 << 20, FlushInterval: time.Millisecond, MaxAtomic: 64 << 10})
			const writers, rounds = 6, 150
			region := f.Size() / writers / 4096 * 4096
			models := make([][]byte, writers)
			var wg sync.WaitGroup
			errs := make(chan error, writers+2)
			stop := make(chan struct{})
			go func() { // syncer
				defer func() { errs <- nil }()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := f.Sync(); err != nil {
						errs <- err
						return
					}
					time.Sleep(200 * time.Microsecond)
				}
			}()
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 9))
					base := int64(w) * region
					model := make([]byte, region)
					for r := range rounds {
						n := 1 + rng.IntN(20000)
						off := rng.Int64N(region - int64(n))
						p := make([]byte, n)
						for i := range p {
							p[i] = byte(w*31 + r + i)
						}
						var err error
						if r%3 == 0 {
							_, err = f.WriteAt(p, base+off)
						} else {
							_, err = WriteAt(f, p, base+off)
						}
						if errors.Is(err, ErrTooLarge) && f.Mode() == ModeNative {
							continue // its power-of-two unit crosses a boundary larger than the device's maximum
						}
						if err != nil {
							errs <- err
							return
						}
						copy(model[off:], p)
						got := make([]byte, n)
						if _, err := f.ReadAt(got, base+off); err != nil {
							errs <- err
							return
						}
						if !bytes.Equal(got, p) {
							errs <- fmt.Errorf("writer %d round %d: read differs", w, r)
							return
						}
					}
					models[w] = model
				}()
			}
			wg.Wait()
			close(stop)
			// The syncer reports nil when stopped, or its error; a writer
			// reports only errors.
			for _, err := range drain(errs) {
				require.NoError(t, err)
			}
			require.NoError(t, f.Sync())
			g, err := OpenDevice(mem.CrashClone(blockdev.CrashConfig{Seed: 1, Survive: 0.5}), Options{MaxAtomic: 64 << 10})
			require.NoError(t, err)
			defer g.Close()
			for w := range writers {
				got := make([]byte, region)
				_, err := g.ReadAt(got, int64(w)*region)
				require.NoError(t, err)
				require.True(t, bytes.Equal(models[w], got), "region %d after the crash", w)
			}
		})
	}
}

// drain returns the errors already in ch, after the one the syncer always sends.
func drain(ch chan error) []error {
	errs := []error{<-ch}
	for {
		select {
		case err := <-ch:
			errs = append(errs, err)
		default:
			return errs
		}
	}
}
