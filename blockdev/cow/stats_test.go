package cow

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestStatsTimeBreakdown checks that each part of the time breakdown grows
// exactly when its kind of work happens: commits without FUA add only
// CommitTime, a flush adds FlushTime, cleaning adds CleanTime and the
// checkpoint interval CheckpointTime.
func TestStatsTimeBreakdown(t *testing.T) {
	opts := Options{LogicalSize: 4 << 20, SegmentSize: 256 << 10, MaxBatch: 256 << 10, AtomicMax: 256 << 10,
		CheckpointInterval: 1 << 20}
	d, _ := formatMem(t, blockdev.LimitsNone, opts)

	const page = 16 << 10
	rng := rand.New(rand.NewPCG(2, 2))
	buf := make([]byte, 8*page)

	require.NoError(t, d.CommitBatch(randomPages(rng, d.Size(), 8, buf, 0), 0))
	st := d.Stats()
	require.Positive(t, st.CommitTime)
	require.Zero(t, st.FlushTime, "no flush was asked for")
	require.Zero(t, st.CleanTime, "a new device has free segments")
	require.Zero(t, st.CheckpointTime)

	require.NoError(t, d.Flush())
	require.Positive(t, d.Stats().FlushTime)

	for i := 1; d.Stats().CleanedBlocks == 0 || d.Stats().CheckpointTime == 0; i++ {
		require.Less(t, i, 10000, "no cleaning after %d batches", i)
		require.NoError(t, d.CommitBatch(randomPages(rng, d.Size(), 8, buf, i), blockdev.FUA))
	}
	st = d.Stats()
	require.Positive(t, st.CleanTime)
	require.Positive(t, st.CheckpointTime)
	require.Positive(t, st.FlushTime)
	t.Logf("commit %v, flush %v, clean %v, checkpoint %v for %d user blocks, %d cleaned",
		st.CommitTime, st.FlushTime, st.CleanTime, st.CheckpointTime, st.UserBlocks, st.CleanedBlocks)
}
