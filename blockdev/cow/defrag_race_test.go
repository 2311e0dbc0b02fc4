package cow

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestDefragSkipsReusedSegment: a read of fragmented data unlocks the
// device before it defragments. If meanwhile the data is overwritten, its
// segment freed by a checkpoint and taken again by the log, and the same
// logical blocks written again to exactly the same places, the mapping
// looks unchanged although the blocks hold new data: the defragmentation
// must notice the reuse and not write back what it read (the old data).
func TestDefragSkipsReusedSegment(t *testing.T) {
	opts := Options{LogicalSize: 256 << 12, SegmentSize: 32 << 10, AtomicMax: 16 << 10, MaxBatch: 32 << 10,
		CheckpointInterval: 1 << 30, SparePercent: 1000} // room: no cleaning moves anything meanwhile
	d, _ := formatMem(t, blockdev.LimitsNone, opts)
	g := d.g
	bs := g.bs
	block := func(v byte) []byte {
		b := blockdev.AlignedBuffer(int(bs), 512)
		for i := range b {
			b[i] = v
		}
		return b
	}
	write := func(l int64, v byte) {
		_, err := d.WriteAt(block(v), l*bs, 0)
		require.NoError(t, err)
	}
	// One record per block: the first four fill segment 0 (header, data,
	// header, data, ...), so the 16 blocks lie in 16 fragments.
	require.Equal(t, g.segStart(0), d.head)
	for l := range int64(16) {
		write(l, 1)
	}
	places := append([]uint32(nil), d.m[:16]...)

	defragHook = func() {
		defragHook = nil
		for l := range int64(4) { // segment 0 holds no live data now
			write(l, 2)
		}
		d.mu.Lock()
		require.NoError(t, d.checkpointLocked(false)) // which frees it
		d.mu.Unlock()
		for g.segOf(d.head) != 0 { // fill the log until its head reaches segment 0 again
			write(100, 3)
		}
		for l := range int64(4) { // the same blocks, in the same order: the same places
			write(l, 4)
		}
		require.Equal(t, places, d.m[:16], "the setup must map the blocks back to the same places")
	}
	t.Cleanup(func() { defragHook = nil })
	p := blockdev.AlignedBuffer(int(16*bs), 512)
	_, err := d.ReadAt(p, 0)
	require.NoError(t, err)
	require.Nil(t, defragHook, "the read must have gone through the defragmentation path")
	require.True(t, bytes.Equal(p[:bs], block(1)), "the read itself saw the data before the hook")

	got := blockdev.AlignedBuffer(int(4*bs), 512)
	_, err = d.ReadAt(got, 0)
	require.NoError(t, err)
	for l := range int64(4) {
		require.Equal(t, block(4), got[l*bs:(l+1)*bs], "block %d: the defragmentation wrote back stale data", l)
	}
}
