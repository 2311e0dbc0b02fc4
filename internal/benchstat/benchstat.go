// Package benchstat holds what the benchmark commands (examples/bench,
// examples/sqlite/bench) share: order statistics of their samples and the
// name of the file system they ran on.
package benchstat

import (
	"math"
	"slices"
	"time"

	"github.com/untorn/untorn/blockdev"
)

// Percentile returns the q-th quantile (0..1) of ds by the nearest-rank
// method; 0 for no samples. ds is sorted in place.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[min(max(rank, 0), len(ds)-1)]
}

// Median returns the median of xs (the mean of the middle two for an even
// count); NaNs (figures a run could not measure) are left out, and it is
// NaN when nothing is left. xs is reordered.
func Median(xs []float64) float64 {
	xs = slices.DeleteFunc(xs, math.IsNaN)
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// FileSystem names the file system holding dir (blockdev.FileSystem).
func FileSystem(dir string) string { return blockdev.FileSystem(dir) }
