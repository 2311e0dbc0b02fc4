package cow

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

func TestOptionsRejected(t *testing.T) {
	mem := newSmallMem(t)
	for _, opts := range []Options{
		{LogicalSize: 4097},
		{LogicalSize: -4096},
		{AtomicMax: 3 << 12},
		{AtomicMax: 2048},
		{AtomicMax: 64 << 10, MaxBatch: 32 << 10},
		{SegmentSize: 12 << 10},
		{SegmentSize: 16 << 10},
		{CheckpointInterval: -1},
	} {
		_, err := Format(mem, opts)
		require.ErrorIs(t, err, ErrInvalidOptions, "%+v", opts)
	}
	_, err := Format(mem, Options{LogicalSize: mem.Size()})
	require.ErrorIs(t, err, ErrTooSmall)
	_, err = RequiredSize(4096, Options{})
	require.ErrorIs(t, err, ErrInvalidOptions)
}

// TestDefaultLayout formats with zero Options: the largest logical size
// that fits, untorn writes up to the default maximum, and a batch limit at
// least that large.
func TestDefaultLayout(t *testing.T) {
	mem, err := blockdev.NewMem(64<<20, blockdev.LimitsNone)
	require.NoError(t, err)
	d, err := Format(mem, Options{})
	require.NoError(t, err)
	l := d.Limits()
	require.Equal(t, 4096, l.BlockSize)
	require.Equal(t, 4096, l.AtomicMin)
	require.Equal(t, DefaultAtomicMax, l.AtomicMax)
	require.GreaterOrEqual(t, d.MaxBatch(), int64(l.AtomicMax))
	same := Options{LogicalSize: d.Size(), AtomicMax: l.AtomicMax, MaxBatch: d.MaxBatch(), SegmentSize: d.Stats().SegmentBytes}
	need, err := RequiredSize(4096, same)
	require.NoError(t, err)
	require.LessOrEqual(t, need, mem.Size())
	same.LogicalSize += 4096
	more, err := RequiredSize(4096, same)
	require.NoError(t, err)
	require.Greater(t, more, mem.Size(), "a larger logical size would have fitted")
	t.Logf("64 MiB inner device: logical %d MiB, AtomicMax %d, MaxBatch %d", d.Size()>>20, l.AtomicMax, d.MaxBatch())
}
