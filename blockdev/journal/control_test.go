package journal

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/internal/testsize"
)

// TestNegativeControls breaks one rule of the journal at a time and
// requires the crash campaign to catch it on a fixed seed (so the check
// holds in every run, not by chance; UNTORN_LONG=1 requires it of six
// seeds, each of which catches all three):
//   - BreakHomeFlush: the start moves before the data device is flushed;
//   - BreakOldestImage: a checkpoint writes a stale image over newer data;
//   - BreakGeneration: a reset journal keeps its generation;
//   - BreakInPlaceOverJournal: a unit goes home in place while a record
//     holds an older image of its blocks (replayed over it).
func TestNegativeControls(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		brk     Breakage
		seed    uint64 // a seed that catches it
		inPlace bool   // a workload with units in place
	}{
		{"home-not-flushed", BreakHomeFlush, 4, false},
		{"stale-image", BreakOldestImage, 2, false},
		{"same-generation", BreakGeneration, 0, false},
		{"in-place-over-journal", BreakInPlaceOverJournal, 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seeds := []uint64{tc.seed}
			switch {
			case testsize.Long() && tc.inPlace:
				seeds = []uint64{0, 1, 4, 5} // (2 and 3 write no unit over a journaled block at a cut)
			case testsize.Long():
				seeds = []uint64{0, 1, 2, 3, 4, 5}
			}
			caught := 0
			for _, seed := range seeds {
				w := workload{seed: seed, steps: 40, dataSize: 64 * testBS, area: 24, brk: tc.brk, afterEvery: 4, inPlace: tc.inPlace}
				_, failures := campaign(t, w, true, true)
				if len(failures) > 0 {
					t.Logf("seed %d: caught: %v", seed, failures[0])
					caught++
				}
			}
			require.Equal(t, len(seeds), caught, "every seed must catch it")
		})
	}
}
