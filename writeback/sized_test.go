package writeback

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
)

// recordingCOW is a COW container whose transactions are recorded and can
// be made to fail.
type recordingCOW struct {
	*cow.Device
	mu    sync.Mutex // guards the fields below
	txns  []recordedTxn
	failN int // fail the next failN CommitSized calls
}

type recordedTxn struct {
	pieces    [][2]int64 // [off, end) of each piece
	cut, size int64
}

var errTxn = errors.New("injected transaction failure")

func (d *recordingCOW) CommitSized(pieces []blockdev.Piece, cut, size int64, flags blockdev.Flags) error {
	d.mu.Lock()
	var t recordedTxn
	for _, p := range pieces {
		t.pieces = append(t.pieces, [2]int64{p.Off, p.Off + int64(len(p.Data))})
	}
	t.cut, t.size = cut, size
	if d.failN > 0 {
		d.failN--
		d.mu.Unlock()
		return errTxn
	}
	d.txns = append(d.txns, t)
	d.mu.Unlock()
	return d.Device.CommitSized(pieces, cut, size, flags)
}

func (d *recordingCOW) taken() []recordedTxn {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.txns
	d.txns = nil
	return out
}

func newSizedEngine(t *testing.T) (*Engine, *recordingCOW) {
	t.Helper()
	mem, err := blockdev.NewMem(8<<20, blockdev.LimitsNone)
	require.NoError(t, err)
	c, err := cow.Format(mem, cow.Options{})
	require.NoError(t, err)
	dev := &recordingCOW{Device: c}
	t.Cleanup(func() { require.NoError(t, dev.Close()) })
	return startEngine(t, Config{Device: dev}, 2<<20), dev
}

func read(t *testing.T, e *Engine, off int64, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	got, gap, err := e.cache.Read(buf, off)
	require.NoError(t, err)
	if got < n {
		dev := blockdev.AlignedBuffer(int(gap.Len), 4096)
		require.NoError(t, e.ReadDevice(dev, gap.Off))
		copy(buf[got:], dev[off+int64(got)-gap.Off:])
	}
	return buf
}

// TestBatchIsOneTransaction: a batch of pieces far apart, with the dirty
// data over one of them, goes out as one transaction; the other dirty
// data after it; sizes are exact bytes, never rounded to pages.
func TestBatchIsOneTransaction(t *testing.T) {
	e, dev := newSizedEngine(t)
	ctx := context.Background()
	require.NoError(t, e.Write(ctx, bytes.Repeat([]byte{1}, 100), 1<<20, true)) // under piece 2
	require.NoError(t, e.Write(ctx, bytes.Repeat([]byte{2}, 100), 3<<20, true)) // elsewhere: its own
	pieces := []blockdev.Piece{
		{Off: 10, Data: bytes.Repeat([]byte{3}, 10)},
		{Off: 1<<20 + 50, Data: bytes.Repeat([]byte{4}, 10)},
		{Off: 2 << 20, Data: bytes.Repeat([]byte{5}, 4097)},
	}
	require.NoError(t, e.Commit(ctx, pieces, -1, -1))
	require.NoError(t, e.Sync())
	txns := dev.taken()
	require.Len(t, txns, 2, "the batch with what overlaps it, then the rest: %+v", txns)
	require.Equal(t, [][2]int64{{0, 4096}, {1 << 20, 1<<20 + 4096}, {2 << 20, 2<<20 + 8192}}, txns[0].pieces)
	require.Equal(t, int64(2<<20+4097), txns[0].size, "the batch's exact end")
	require.Equal(t, int64(3<<20+100), txns[1].size, "the write's exact end")
	require.Equal(t, int64(3<<20+100), dev.FileSize())
	require.Equal(t, bytes.Repeat([]byte{4}, 10), read(t, e, 1<<20+50, 10))
}

// TestCutRidesWithItsBatch: a cut is in the same transaction as its
// batch's pieces, the zeros past it in its page included, and a write
// past the cut while the batch is pending writes the batch back first.
func TestCutRidesWithItsBatch(t *testing.T) {
	e, dev := newSizedEngine(t)
	ctx := context.Background()
	require.NoError(t, e.Write(ctx, bytes.Repeat([]byte{7}, 64<<10), 0, false))
	require.NoError(t, e.Sync())
	dev.taken()
	zeros := make([]byte, 4096-100)
	require.NoError(t, e.Commit(ctx, []blockdev.Piece{{Off: 0, Data: []byte{9}}, {Off: 100, Data: zeros}}, 100, 100))
	require.Equal(t, int64(100), e.Size())
	require.Equal(t, make([]byte, 8), read(t, e, 20000, 8), "a pending cut reads as zeros past it")
	require.Empty(t, dev.taken(), "Commit alone writes nothing")

	require.NoError(t, e.Write(ctx, []byte{8}, 10000, true)) // past the cut: the batch goes first
	txns := dev.taken()
	require.Len(t, txns, 1)
	require.Equal(t, recordedTxn{pieces: [][2]int64{{0, 4096}}, cut: 100, size: 100}, txns[0])
	require.NoError(t, e.Sync())
	require.Equal(t, int64(10001), dev.FileSize())
	require.Equal(t, make([]byte, 8), read(t, e, 20000-8, 8))
}

// TestFailedTransactionStopsThePass: when a batch's transaction fails,
// nothing after it in the pass is sent (a later size could stand for a cut
// that did not happen, a later group overtake it); the batch stays pending
// and the next Sync sends it whole, then the rest.
func TestFailedTransactionStopsThePass(t *testing.T) {
	e, dev := newSizedEngine(t)
	ctx := context.Background()
	require.NoError(t, e.Write(ctx, bytes.Repeat([]byte{1}, 8192), 0, false))
	require.NoError(t, e.Sync())
	dev.taken()
	require.NoError(t, e.Write(ctx, []byte{3}, 50000, true)) // a group of its own, sent after the batch
	require.NoError(t, e.Commit(ctx, []blockdev.Piece{{Off: 10, Data: []byte{2}}}, -1, -1))
	dev.mu.Lock()
	dev.failN = 1
	dev.mu.Unlock()
	require.ErrorIs(t, e.Sync(), errTxn)
	require.Empty(t, dev.taken(), "nothing after the failed transaction")
	require.Equal(t, int64(8192), dev.FileSize())
	require.NoError(t, e.Sync())
	txns := dev.taken()
	require.Len(t, txns, 2, "the batch, then the write")
	require.Equal(t, [][2]int64{{0, 4096}}, txns[0].pieces)
	require.Equal(t, int64(50001), dev.FileSize())
	require.Equal(t, []byte{2}, read(t, e, 10, 1))
}

// TestGroupCommitSizeCoversPlainData: a group whose untorn unit lies over
// the last page of plain data (its atoms put the unit first, then the plain
// part before it) grows the size to the end of its data in the same
// transaction. With the pieces out of order the size stayed 0, the device
// refused a piece past it, and every Sync failed.
func TestGroupCommitSizeCoversPlainData(t *testing.T) {
	e, dev := newSizedEngine(t)
	ctx := context.Background()
	require.NoError(t, e.Write(ctx, bytes.Repeat([]byte{1}, 16384), 0, false))  // one 16 KiB folio
	require.NoError(t, e.Write(ctx, bytes.Repeat([]byte{2}, 100), 12388, true)) // a unit over its last page
	require.NoError(t, e.Sync())
	txns := dev.taken()
	require.Len(t, txns, 1)
	require.Equal(t, int64(16384), txns[0].size, "the plain write's end is in this transaction")
}
