package pagestore

import (
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// testDevice is the size of the test Mem: 64 pages (fewer should the File
// put a COW container on it, which takes what it needs and leaves the rest).
const testDevice = 1 << 20

func testFileOptions() atomicio.Options {
	return atomicio.Options{CacheSize: 1 << 20, MaxAtomic: 64 << 10, FlushInterval: 2 * time.Millisecond}
}

// rig is a Store over a File over a Mem, every device operation passing a
// hook that can cut the power just before the k-th write or flush, so a
// crash can land inside a Sync.
type rig struct {
	mem   *blockdev.Mem
	f     *atomicio.File
	store *Store
	cut   *blockdev.CrashPoint // cuts the power before a chosen write or flush
}

func newTestMem(t require.TestingT) *blockdev.Mem {
	mem, err := blockdev.NewMem(testDevice, blockdev.LimitsXFS)
	require.NoError(t, err)
	return mem
}

// openRig opens (or creates) a store on mem.
func openRig(t require.TestingT, mem *blockdev.Mem, opts Options) *rig {
	r := &rig{mem: mem, cut: blockdev.NewCrashPoint(mem)}
	f, err := atomicio.OpenDevice(blockdev.WithFaults(mem, r.cut), testFileOptions())
	require.NoError(t, err)
	r.f = f
	r.store, err = Open(f, opts)
	require.NoError(t, err)
	return r
}

// crash cuts the power now and reopens the store from the image.
func (r *rig) crash(t require.TestingT, cfg blockdev.CrashConfig) *rig {
	img := r.mem.CrashClone(cfg)
	_ = r.f.Abandon()
	return openRig(t, img, Options{})
}

// crashInSync runs a Sync with the power cut before its k-th device write
// or flush, and reopens the store from that image. It reports whether the
// cut came before the Sync finished.
func (r *rig) crashInSync(t require.TestingT, k int, cfg blockdev.CrashConfig) (*rig, bool) {
	r.cut.Arm(k, cfg)
	require.NoError(t, r.store.Sync())
	img, _ := r.cut.Take()
	inside := img != nil
	if !inside {
		img = r.mem.CrashClone(cfg)
	}
	_ = r.f.Abandon()
	return openRig(t, img, Options{}), inside
}

// contents reads the whole store with Scan.
func contents(t require.TestingT, s *Store) map[string]string {
	got := map[string]string{}
	require.NoError(t, s.Scan(func(k, v []byte) bool {
		_, dup := got[string(k)]
		require.False(t, dup, "Scan returned %q twice", k)
		got[string(k)] = string(v)
		return true
	}))
	require.Equal(t, len(got), s.Len())
	return got
}

// checkOnCleanup runs the store's consistency check when the test ends
// (on the store the rig holds then).
func checkOnCleanup(t testing.TB, r **rig) {
	t.Cleanup(func() {
		if (*r).store.closed || (*r).store.failed != nil {
			return
		}
		require.NoError(t, (*r).store.Check())
		_ = (*r).f.Abandon()
	})
}

func cloneMap(m map[string]string) map[string]string { return maps.Clone(m) }
