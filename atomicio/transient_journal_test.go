package atomicio

import (
	"bytes"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/testsize"
)

// faultAt fails the operation with index n among those of all the
// devices it is given to (reads, writes and flushes, counted together),
// once, with err.
type faultAt struct {
	n, seen atomic.Int64
	err     error
}

func (f *faultAt) MaybeError(blockdev.Op) error {
	if f.seen.Add(1)-1 == f.n.Load() {
		return f.err
	}
	return nil
}

// TestTransientFaultJournal: in journal mode one ENOSPC or EIO at any
// device operation of a Sync, of the checkpoints it needs for room, of the
// last checkpoint in Close, and of the recovery of a crash image, is
// reported by that call (wrapped), nothing is dropped, and once the device
// works again the next try succeeds and everything is durable and whole.
// By default every 4th index is faulted (ENOSPC at 0, 4, 8, ...; EIO at 2,
// 6, 10, ...); with UNTORN_LONG=1 every index with each error.
func TestTransientFaultJournal(t *testing.T) {
	t.Parallel()
	opts := Options{FlushInterval: -1, CacheSize: 4 << 20, JournalSize: 256 << 10}
	faults := map[string]error{"ENOSPC": blockdev.ErrInjectedENOSPC, "EIO": blockdev.ErrInjectedEIO}
	injected := func(err error) bool {
		return errors.Is(err, blockdev.ErrInjected) && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO))
	}
	stride := int64(testsize.Pick(4, 1))
	first := map[string]int64{"ENOSPC": 0, "EIO": stride / 2}
	for name, fault := range faults {
		tried := 0
		for k := first[name]; ; k += stride {
			tried++
			m, err := makeMachine(2<<20, opts.JournalSize+2*4096, blockdev.LimitsNone)
			require.NoError(t, err)
			inj := &faultAt{err: fault}
			inj.n.Store(-1)
			f, fds, err := m.open(opts, inj)
			require.NoError(t, err)
			require.Equal(t, ModeJournal, f.Mode())
			want := make([]byte, f.Size())
			for i := range 300 {
				p := pattern(5000+i*37%9000, byte(i+1))
				off := int64(i) * 200011 % int64(len(want)-len(p))
				_, err := WriteAt(f, p, off)
				require.NoError(t, err)
				copy(want[off:], p)
				if i%50 == 49 && i < 250 {
					require.NoError(t, f.Sync())
				}
			}
			ops := func() int64 { return int64(fds[0].Ops() + fds[1].Ops()) }
			inj.seen.Store(0)
			inj.n.Store(k)
			start := ops()
			err = f.Sync()
			if err != nil {
				require.True(t, injected(err), "fault at %d: %v", k, err)
				require.Positive(t, f.Stats().DirtyBytes, "fault at %d: the dirty data is kept", k)
				require.NoError(t, f.Sync(), "fault at %d: the next Sync on a working device succeeds", k)
			}
			got := make([]byte, len(want))
			if _, err = f.ReadAt(got, 0); err != nil { // the fault may hit a read
				require.True(t, injected(err), "fault at %d: read: %v", k, err)
				_, err = f.ReadAt(got, 0)
				require.NoError(t, err)
			}
			require.True(t, bytes.Equal(want, got), "fault at %d: reads", k)
			img := m.cut(blockdev.CrashConfig{Seed: uint64(k), Survive: 0.5})
			err = f.Close()
			if err != nil {
				require.True(t, injected(err), "fault at %d: close: %v", k, err)
				require.NoError(t, f.Close(), "fault at %d: the next Close on a working device succeeds", k)
			}
			hit := ops()-start > k
			// Recovery of the image cut after the Sync, with the fault at
			// the same index of its operations.
			inj2 := &faultAt{err: fault}
			inj2.n.Store(k)
			g, _, err := img.cut(blockdev.CrashConfig{Survive: 1}).open(opts, inj2)
			if err != nil {
				require.True(t, injected(err), "fault at %d: recovery: %v", k, err)
				g, _, err = img.open(opts, nil)
				require.NoError(t, err, "fault at %d: the next recovery succeeds", k)
			} else {
				hit = hit || inj2.seen.Load() > k
			}
			if _, err = g.ReadAt(got, 0); err != nil { // the fault may hit a read
				require.True(t, injected(err), "fault at %d: read after recovery: %v", k, err)
				_, err = g.ReadAt(got, 0)
				require.NoError(t, err)
			}
			require.True(t, bytes.Equal(want, got), "fault at %d: durable after the Sync that succeeded", k)
			if err := g.Close(); err != nil { // or a write of its last checkpoint
				require.True(t, injected(err), "fault at %d: close after recovery: %v", k, err)
				require.NoError(t, g.Close())
			}
			if !hit {
				t.Logf("%s: a fault at %d of the %d device operations of a Sync, Close and a recovery was reported and recovered from", name, tried-1, k)
				require.Greater(t, k, int64(20), "the Sync must checkpoint and flush")
				break
			}
		}
	}
}
