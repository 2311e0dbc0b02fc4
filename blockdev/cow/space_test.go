package cow

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestSpaceUnderRandomOverwrites overwrites a device with random 16 KiB
// pages in batches, ten times its capacity: no write may fail for lack of
// space, the container never holds more than the size RequiredSize
// documents, and the cleaner's write amplification is reported.
func TestSpaceUnderRandomOverwrites(t *testing.T) {
	t.Parallel()
	opts := Options{LogicalSize: sized[int64](8<<20, 8<<20, 32<<20), SegmentSize: 256 << 10, MaxBatch: 256 << 10, AtomicMax: 256 << 10}
	d, mem := formatMem(t, blockdev.LimitsNone, opts)
	size, err := RequiredSize(4096, opts)
	require.NoError(t, err)

	const page = 16 << 10
	rng := rand.New(rand.NewPCG(1, 1))
	buf := make([]byte, 16*page)
	written := int64(0)
	for i := 0; written < 10*d.Size(); i++ {
		pieces := randomPages(rng, d.Size(), 16, buf, i)
		written += int64(len(pieces)) * page
		flags := blockdev.Flags(0)
		if i%8 == 7 {
			flags = blockdev.FUA
		}
		require.NoError(t, d.CommitBatch(pieces, flags), "after %d bytes", written)
	}
	st := d.Stats()
	require.LessOrEqual(t, st.PhysicalBytes, size)
	require.LessOrEqual(t, st.PhysicalBytes, mem.Size())
	wa := float64(st.UserBlocks+st.CleanedBlocks+st.HeaderBlocks) / float64(st.UserBlocks)
	t.Logf("logical %d MiB, physical %d MiB (overhead %.1f%%), wrote %d MiB: write amplification %.2f, %d checkpoints, live %d MiB",
		st.LogicalBytes>>20, st.PhysicalBytes>>20, 100*float64(st.PhysicalBytes-st.LogicalBytes)/float64(st.LogicalBytes),
		written>>20, wa, st.Checkpoints, st.LiveBytes>>20)

	for _, logical := range []int64{1 << 30, 16 << 30} {
		req, err := RequiredSize(4096, Options{LogicalSize: logical})
		require.NoError(t, err)
		over := float64(req-logical) / float64(logical)
		t.Logf("default layout for %d GiB: inner %d MiB, overhead %.1f%% (map checkpoints %.2f%%)",
			logical>>30, req>>20, 100*over, 100*float64(2*ckptBlocksFor(logical/4096, 4096)*4096)/float64(logical))
		require.Less(t, over, 0.15)
	}
}
