package journal

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNegativeControls breaks one rule of the journal at a time and
// requires the crash campaign to catch it, on a fixed seed (so the check
// holds in every run, not by chance):
//   - BreakHomeFlush: the start moves before the data device is flushed;
//   - BreakOldestImage: a checkpoint writes a stale image over newer data;
//   - BreakGeneration: a reset journal keeps its generation.
func TestNegativeControls(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		brk  Breakage
	}{
		{"home-not-flushed", BreakHomeFlush},
		{"stale-image", BreakOldestImage},
		{"same-generation", BreakGeneration},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			caught := 0
			for seed := range uint64(3) {
				w := workload{seed: seed, steps: 40, dataSize: 64 * testBS, area: 24, brk: tc.brk}
				_, failures := campaign(t, w, true)
				t.Logf("seed %d: %d failures; first: %v", seed, len(failures), first(failures))
				if len(failures) > 0 {
					caught++
				}
			}
			require.Positive(t, caught, "the control must be caught")
		})
	}
}

func first(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}
