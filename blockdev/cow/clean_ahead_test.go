package cow

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestCleanAheadSparesTheNextCommit: after random overwrites have used up
// the free segments, CleanAhead rounds restore them, the content is
// unchanged (also after a crash and recovery), and the next commit does
// not have to clean.
func TestCleanAheadSparesTheNextCommit(t *testing.T) {
	t.Parallel()
	mem, err := blockdev.NewMem(24<<20, blockdev.LimitsNone)
	require.NoError(t, err)
	d, err := Format(mem, Options{})
	require.NoError(t, err)
	defer d.Close()
	size := d.Size()
	model := make([]byte, size)
	rng := rand.New(rand.NewPCG(3, 4))
	page := make([]byte, 16<<10)
	write := func() {
		off := rng.Int64N(size/int64(len(page))) * int64(len(page))
		for i := range page {
			page[i] = byte(rng.Uint32())
		}
		require.NoError(t, d.CommitBatch([]blockdev.Piece{{Off: off, Data: page}}, 0))
		copy(model[off:], page)
	}
	for range 3 * size / int64(len(page)) {
		write()
	}
	d.mu.RLock()
	freeBefore := d.spaceLocked()
	d.mu.RUnlock()
	rounds := 0
	for {
		gained, err := d.CleanAhead()
		require.NoError(t, err)
		if !gained {
			break
		}
		rounds++
		require.Less(t, rounds, 1000)
	}
	d.mu.RLock()
	freeAfter := d.spaceLocked()
	want := d.aheadTargetLocked()
	d.mu.RUnlock()
	t.Logf("free segments %d -> %d after %d rounds (want %d)", freeBefore, freeAfter, rounds, want)
	require.Positive(t, rounds, "the overwrites left too few free segments: CleanAhead must clean")
	require.GreaterOrEqual(t, int64(freeAfter), want)

	cleaned := d.Stats().CleanedBlocks
	write()
	require.Equal(t, cleaned, d.Stats().CleanedBlocks, "the next commit found free space")
	require.NoError(t, d.Flush())

	got := make([]byte, size)
	buf := blockdev.AlignedBuffer(int(size), 512)
	_, err = d.ReadAt(buf, 0)
	require.NoError(t, err)
	copy(got, buf)
	require.Equal(t, model, got)

	r, err := Open(mem.CrashClone(blockdev.CrashConfig{}), Options{})
	require.NoError(t, err)
	defer r.Close()
	_, err = r.ReadAt(buf, 0)
	require.NoError(t, err)
	require.Equal(t, model, buf)
}
