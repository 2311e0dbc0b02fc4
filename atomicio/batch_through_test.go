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
)

// TestLargeBatchIsWrittenThrough commits a batch four times the cache (8
// MiB of scattered, unaligned pieces and a Truncate) and takes crash images
// before every device write and flush of that Commit and the Sync after
// it: each must show the file before the batch or after it, whole, size
// included. The File reads the batch back at once and after a reopen.
func TestLargeBatchIsWrittenThrough(t *testing.T) {
	mem, err := blockdev.NewMem(64<<20, blockdev.LimitsNone)
	require.NoError(t, err)
	var mu sync.Mutex // guards armed and images
	armed := false
	var images []*blockdev.Mem
	inj := blockdev.InjectorFunc(func(op blockdev.Op) error {
		mu.Lock()
		defer mu.Unlock()
		if armed && op.Kind != blockdev.OpRead && len(images) < 16 {
			images = append(images, mem.CrashClone(blockdev.CrashConfig{Seed: op.Index, Survive: float64(op.Index%3) / 2}))
		}
		return nil
	})
	opts := Options{CacheSize: 4 << 20, FlushInterval: -1}
	f, err := OpenDevice(blockdev.WithFaults(mem, inj), opts)
	require.NoError(t, err)
	defer func() { _ = f.Abandon() }()
	require.NoError(t, f.Truncate(0))
	before := pattern(3<<20, 1)
	for off := 0; off < len(before); off += 256 << 10 {
		_, err = f.WriteAt(before[off:off+256<<10], int64(off))
		require.NoError(t, err)
	}
	require.NoError(t, f.Sync())

	after := bytes.Clone(before)
	rng := rand.New(rand.NewPCG(3, 3))
	b := f.NewBatch()
	for i := range 128 {
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
	const size = 10<<20 + 123
	require.NoError(t, b.Truncate(size))
	after = append(after, make([]byte, size-len(after))...)[:size]
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
	mu.Unlock()
	t.Logf("a %d MiB batch over a %d MiB cache: Commit %v, %d crash images", b.Len()>>20, opts.CacheSize>>20, commit, len(images))
	require.NotEmpty(t, images)

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
		got := make([]byte, len(want)+1)
		n, err := g.ReadAt(got, 0)
		require.ErrorIs(t, err, io.EOF)
		require.Equal(t, len(want), n, "image %d: size %d", i, g.Size())
		require.True(t, bytes.Equal(want, got[:n]), "image %d shows neither the file before the batch nor after it", i)
		require.NoError(t, g.Close())
	}
	t.Logf("crash images: %d before the batch, %d after it", sawBefore, sawAfter)
	require.Positive(t, sawBefore)
	require.Positive(t, sawAfter)
}

// TestBatchOf64MiBOnFile commits a 64 MiB batch to a new file with the
// default options (the cache holds 26 MiB of batch), syncs and reads it
// back after a reopen.
func TestBatchOf64MiBOnFile(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MiB")
	}
	path := filepath.Join(t.TempDir(), "data")
	f, err := Open(path, Options{})
	require.NoError(t, err)
	defer func() { _ = f.Abandon() }()
	const page = 16 << 10
	b := f.NewBatch()
	for i := range int64(64 << 20 / page) {
		_, err := b.WriteAt(pattern(page, byte(i)), i*page)
		require.NoError(t, err)
	}
	start := time.Now()
	require.NoError(t, b.Commit())
	commit := time.Since(start)
	require.NoError(t, f.Sync())
	t.Logf("64 MiB batch: Commit %v, Commit and Sync %v (MaxBatch %d MiB)", commit, time.Since(start), f.MaxBatch()>>20)
	require.NoError(t, f.Close())
	g, err := Open(path, Options{})
	require.NoError(t, err)
	defer func() { _ = g.Abandon() }()
	require.EqualValues(t, 64<<20, g.Size())
	got := make([]byte, page)
	for _, i := range []int64{0, 1, 2047, 4095} {
		_, err := g.ReadAt(got, i*page)
		require.NoError(t, err)
		require.Equal(t, pattern(page, byte(i)), got, "page %d", i)
	}
}
