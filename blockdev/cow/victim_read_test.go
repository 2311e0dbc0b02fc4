package cow

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestPlanVictimReads(t *testing.T) {
	const bs, seg, start = 4096, 1024, 5000 // a 4 MiB segment
	assert.Nil(t, planVictimReads(nil, bs, start), "nothing live, nothing to read")

	// A few live pages far apart: one read each.
	runs := planVictimReads([]int64{0, 1, 2, 3, 100, 101, 102, 103, 1020, 1021, 1022, 1023}, bs, start)
	assert.Equal(t, []physRun{{0, 4, start}, {100, 104, start + 100}, {1020, 1024, start + 1020}}, runs)

	// Live pages separated by small gaps are read together.
	runs = planVictimReads([]int64{10, 11, 16, 17}, bs, start)
	assert.Equal(t, []physRun{{10, 18, start + 10}}, runs)

	// Every other 16 KiB page live: one request from the first to the
	// last.
	var half []int64
	for p := int64(0); p < seg; p += 8 {
		half = append(half, p, p+1, p+2, p+3)
	}
	assert.Equal(t, []physRun{{0, seg - 4, start}}, planVictimReads(half, bs, start))

}

// TestPlanVictimReadsCovers checks with rapid that every live block is
// read, reads stay inside the segment, do not overlap, are ascending, and
// never cost more than reading the segment whole.
func TestPlanVictimReadsCovers(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		bs := int64(4096) << rapid.IntRange(0, 2).Draw(rt, "bsShift")
		segBlocks := int64(16) << rapid.IntRange(0, 6).Draw(rt, "segShift")
		start := rapid.Int64Range(0, 1<<20).Draw(rt, "start")
		live := rapid.SliceOfDistinct(rapid.Int64Range(0, segBlocks-1), func(x int64) int64 { return x }).Draw(rt, "live")
		at := make([]int64, 0, len(live))
		for i := range segBlocks {
			for _, x := range live {
				if x == i {
					at = append(at, i)
				}
			}
		}
		runs := planVictimReads(at, bs, start)
		if len(at) == 0 {
			require.Empty(rt, runs)
			return
		}
		covered := map[int64]bool{}
		prevEnd := int64(0)
		for _, r := range runs {
			require.Less(rt, r.i, r.j)
			require.GreaterOrEqual(rt, r.i, prevEnd, "ascending, disjoint")
			require.LessOrEqual(rt, r.j, segBlocks)
			require.Equal(rt, start+r.i, r.phys)
			for b := r.i; b < r.j; b++ {
				covered[b] = true
			}
			prevEnd = r.j
		}
		for _, b := range at {
			require.True(rt, covered[b], "live block %d not read", b)
		}
		gap := max(readRequestBytes/bs, 1)
		cost := int64(0)
		for _, r := range runs {
			cost += r.j - r.i + gap
		}
		require.LessOrEqual(rt, cost, segBlocks+gap, "never dearer than one whole read")
	})
}
