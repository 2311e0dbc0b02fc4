package atomicio

import (
	"bytes"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/testsize"
)

// TestLargeBatchIsWrittenThrough commits a batch twice the cache
// (scattered, unaligned pieces and a Truncate) and takes crash images
// before every device write and flush of that Commit and the Sync after it
// (the first 16; none, half and all of the volatile writes surviving),
// and one after that Sync: each must show the file before the batch or
// after it, whole, size included; the first before, the last after. The
// File reads the batch back at once.
//
// The default run scales everything down by 4 (a 1 MiB cache, a 2 MiB
// batch, a 16 MiB device); UNTORN_LONG=1 runs a 4 MiB cache, an 8 MiB
// batch and a 64 MiB device.
func TestLargeBatchIsWrittenThrough(t *testing.T) {
	t.Parallel()
	k := testsize.Pick(1, 4) // MiB of cache
	mem, err := blockdev.NewMem(int64(k)*16<<20, blockdev.LimitsNone)
	require.NoError(t, err)
	var mu sync.Mutex // guards armed, points and images
	armed, points := false, 0
	var images []*blockdev.Mem
	inj := blockdev.InjectorFunc(func(op blockdev.Op) error {
		mu.Lock()
		defer mu.Unlock()
		if armed && op.Kind != blockdev.OpRead && points < 16 {
			points++
			for _, survive := range []float64{0, 0.5, 1} {
				images = append(images, mem.CrashClone(blockdev.CrashConfig{Seed: op.Index, Survive: survive}))
			}
		}
		return nil
	})
	opts := Options{CacheSize: int64(k) << 20, FlushInterval: -1}
	f, err := OpenDevice(blockdev.WithFaults(mem, inj), opts)
	require.NoError(t, err)
	defer func() { _ = f.Abandon() }()
	require.NoError(t, f.Truncate(0))
	before := pattern(k*3<<18, 1)
	for off := 0; off < len(before); off += 256 << 10 {
		_, err = f.WriteAt(before[off:off+256<<10], int64(off))
		require.NoError(t, err)
	}
	require.NoError(t, f.Sync())

	after := bytes.Clone(before)
	rng := rand.New(rand.NewPCG(3, 3))
	b := f.NewBatch()
	for i := range 32 * k {
		n := 60<<10 + rng.IntN(8<<10)
		off := int64(i)*(80<<10) + rng.Int64N(8<<10)
		p := pattern(n, byte(i+2))
		_, err := b.WriteAt(p, off)
		require.NoError(t, err)
		if end := off + int64(n); end > int64(len(after)) {
			after = append(after, make([]byte, end-int64(len(after)))...)
		}
		copy(after[off:], p)
	}
	size := int64(k)*10<<18 + 123
	require.NoError(t, b.Truncate(size))
	after = append(after, make([]byte, int(size)-len(after))...)[:size]
	require.Greater(t, b.Len(), f.MaxBatch()*2)

	mu.Lock()
	armed = true
	mu.Unlock()
	start := time.Now()
	require.NoError(t, b.Commit())
	commit := time.Since(start)
	require.EqualValues(t, size, f.Size())
	got := make([]byte, size)
	_, err = f.ReadAt(got, 0)
	require.NoError(t, err)
	require.True(t, bytes.Equal(after, got), "reads see the batch at once")
	require.NoError(t, f.Sync())
	mu.Lock()
	armed = false
	images = append(images, mem.CrashClone(blockdev.CrashConfig{})) // after the Sync
	mu.Unlock()
	t.Logf("a %.1f MiB batch over a %d MiB cache: Commit %v, %d crash images", float64(b.Len())/(1<<20), opts.CacheSize>>20, commit, len(images))
	require.Greater(t, len(images), 1)

	sawBefore, sawAfter := 0, 0
	for i, img := range images {
		g, err := OpenDevice(img, opts)
		require.NoError(t, err, "image %d", i)
		want := before
		if g.Size() == size {
			want = after
			sawAfter++
		} else {
			sawBefore++
		}
		switch i {
		case 0:
			require.NotEqual(t, size, g.Size(), "the first image, before the Commit wrote anything, shows the batch")
		case len(images) - 1:
			require.Equal(t, size, g.Size(), "the image after the Sync does not show the batch")
		}
		got := make([]byte, len(want)+1)
		n, err := g.ReadAt(got, 0)
		require.ErrorIs(t, err, io.EOF)
		require.Equal(t, len(want), n, "image %d: size %d", i, g.Size())
		require.True(t, bytes.Equal(want, got[:n]), "image %d shows neither the file before the batch nor after it", i)
		require.NoError(t, g.Close())
	}
	t.Logf("crash images: %d before the batch, %d after it", sawBefore, sawAfter)
}

// TestBatchOf64MiBOnFile commits a large batch to a new file, syncs and
// reads it back after a reopen. With UNTORN_LONG=1 it is 64 MiB with the
// default options (the cache holds 26 MiB of batch); the default run
// commits 16 MiB over a 16 MiB cache (which holds 6.5 MiB of batch).
func TestBatchOf64MiBOnFile(t *testing.T) {
	t.Parallel()
	mib := testsize.Pick[int64](16, 64)
	opts := testsize.Pick(Options{CacheSize: 16 << 20}, Options{})
	path := filepath.Join(t.TempDir(), "data")
	f, err := Open(path, opts)
	require.NoError(t, err)
	defer func() { _ = f.Abandon() }()
	const page = 16 << 10
	pages := mib << 20 / page
	require.Greater(t, mib<<20, 2*f.MaxBatch(), "the batch must outgrow the cache")
	b := f.NewBatch()
	for i := range pages {
		_, err := b.WriteAt(pattern(page, byte(i)), i*page)
		require.NoError(t, err)
	}
	start := time.Now()
	require.NoError(t, b.Commit())
	commit := time.Since(start)
	require.NoError(t, f.Sync())
	t.Logf("%d MiB batch: Commit %v, Commit and Sync %v (MaxBatch %.1f MiB)", mib, commit, time.Since(start), float64(f.MaxBatch())/(1<<20))
	require.NoError(t, f.Close())
	g, err := Open(path, opts)
	require.NoError(t, err)
	defer func() { _ = g.Abandon() }()
	require.EqualValues(t, mib<<20, g.Size())
	got := make([]byte, page)
	for _, i := range []int64{0, 1, pages/2 - 1, pages - 1} {
		_, err := g.ReadAt(got, i*page)
		require.NoError(t, err)
		require.Equal(t, pattern(page, byte(i)), got, "page %d", i)
	}
}
