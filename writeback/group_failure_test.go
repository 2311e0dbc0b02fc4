package writeback

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
)

// faultyBatch is a COW container seen through a FaultDevice (reads,
// writes and flushes at logical offsets can be made to fail) whose group
// commits can be held: while armed, the first CommitBatch waits for
// release.
type faultyBatch struct {
	*blockdev.FaultDevice
	batch blockdev.BatchDevice

	mu      sync.Mutex // guards armed
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (d *faultyBatch) CommitBatch(pieces []blockdev.Piece, flags blockdev.Flags) error {
	d.mu.Lock()
	hold := d.armed
	d.armed = false
	d.mu.Unlock()
	if hold {
		close(d.entered)
		<-d.release
	}
	return d.batch.CommitBatch(pieces, flags)
}

func (d *faultyBatch) MaxBatch() int64 { return d.batch.MaxBatch() }

// failReads fails with EIO every read that touches [lo, hi).
func failReads(lo, hi int64) blockdev.Injector {
	return blockdev.OnlyKinds(blockdev.Overlapping(lo, hi, blockdev.ErrInjectedEIO), blockdev.OpRead)
}

// durableCOW reads [off, off+n) of the container a power cut would leave
// on mem now (only data a completed Flush made durable), after recovery.
func durableCOW(t *testing.T, mem *blockdev.Mem, off int64, n int) []byte {
	t.Helper()
	c, err := cow.Open(mem.CrashClone(blockdev.CrashConfig{Survive: 0}), cow.Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Close()) }()
	buf := blockdev.AlignedBuffer(n, 4096)
	_, err = c.ReadAt(buf, off)
	require.NoError(t, err)
	return buf
}

// TestUnitGapUnreadableCOW: in COW mode a unit can have parts that no
// dirty folio covers: a unit rewritten while a pass was writing it stays
// dirty, but the folios the rewrite did not touch became clean with the
// pass (and may be evicted). Those parts are durable on the device as the
// unit has them, so the next pass commits only the dirty folios: an
// unreadable block there stops nothing (it used to fail every pass, so that
// nothing else became durable either), and reads no buffer outside the
// cache's memory.
func TestUnitGapUnreadableCOW(t *testing.T) {
	mem, err := blockdev.NewMem(8<<20, blockdev.LimitsNone)
	require.NoError(t, err)
	c, err := cow.Format(mem, cow.Options{})
	require.NoError(t, err)
	dev := &faultyBatch{FaultDevice: blockdev.WithFaults(c, nil), batch: c,
		entered: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(func() { require.NoError(t, dev.Close()) })
	e := startEngine(t, Config{Device: dev}, 1<<20)
	ctx := context.Background()
	const page = 4096
	a := bytes.Repeat([]byte{'a'}, 4*page)
	b := bytes.Repeat([]byte{'b'}, page)

	for off := int64(0); off < 4*page; off += page { // four folios of one page
		require.NoError(t, e.Write(ctx, a[:page], off, false))
	}
	require.NoError(t, e.Sync())
	require.NoError(t, e.Write(ctx, a, 0, true)) // the unit [0, 16K) over them

	dev.mu.Lock()
	dev.armed = true
	dev.mu.Unlock()
	synced := make(chan error, 1)
	go func() { synced <- e.Sync() }()
	<-dev.entered // the pass is committing the unit
	require.NoError(t, e.Write(ctx, b, 0, true))
	close(dev.release)
	require.NoError(t, <-synced)
	e.mu.Lock()
	_, dirty := e.ranges.Get(0)
	e.mu.Unlock()
	require.True(t, dirty, "the rewritten unit stays dirty")
	// [4K, 16K) is clean: evict it. Reclaim (S3-FIFO) keeps the main
	// queue while the small one has entries, so first churn the small one
	// with clean data (zeros, as on the device).
	zeros := make([]byte, 64<<10)
	for off := int64(4 << 20); off < 6<<20; off += int64(len(zeros)) {
		require.NoError(t, e.cache.Fill(off, zeros))
	}
	e.cache.Reclaim(1 << 30)
	for off := int64(page); off < 4*page; off += page {
		_, cached := e.cache.Lookup(off)
		require.False(t, cached, "evicted")
	}

	other := bytes.Repeat([]byte{'c'}, 4*page)
	require.NoError(t, e.Write(ctx, other, 1<<20, true))
	plain := bytes.Repeat([]byte{'d'}, page)
	require.NoError(t, e.Write(ctx, plain, 2<<20, false))

	dev.SetInjector(failReads(8<<10, 12<<10))
	require.NoError(t, e.Sync(), "the unit's clean part is durable already: nothing to read")
	require.Equal(t, other, durableCOW(t, mem, 1<<20, len(other)), "another unit is durable")
	require.Equal(t, plain, durableCOW(t, mem, 2<<20, len(plain)), "plain data is durable")
	want := append(append([]byte(nil), b...), a[page:]...)
	require.Equal(t, want, durableCOW(t, mem, 0, len(want)), "the rewritten unit is durable")
	require.Zero(t, e.cache.DirtyBytes())
	e.mu.Lock()
	_, dirty = e.ranges.Get(0)
	e.mu.Unlock()
	require.False(t, dirty)
}
