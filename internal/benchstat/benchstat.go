// Package benchstat holds what the benchmark commands (examples/bench,
// examples/sqlite/bench) share: order statistics of their samples and the
// name of the file system they ran on.
package benchstat

import (
	"fmt"
	"math"
	"slices"
	"time"

	"golang.org/x/sys/unix"
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

// fsNames maps statfs magic numbers to file system names.
var fsNames = map[int64]string{
	unix.EXT4_SUPER_MAGIC:      "ext4", // also ext2 and ext3: they share the magic
	unix.XFS_SUPER_MAGIC:       "xfs",
	unix.TMPFS_MAGIC:           "tmpfs",
	unix.BTRFS_SUPER_MAGIC:     "btrfs",
	unix.OVERLAYFS_SUPER_MAGIC: "overlay",
	unix.F2FS_SUPER_MAGIC:      "f2fs",
	unix.NFS_SUPER_MAGIC:       "nfs",
	unix.BCACHEFS_SUPER_MAGIC:  "bcachefs",
	0x2fc12fc1:                 "zfs",
}

// FileSystem names the file system holding dir by its statfs magic number.
func FileSystem(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	if name, ok := fsNames[int64(st.Type)]; ok {
		return name
	}
	return fmt.Sprintf("unknown (magic 0x%x)", st.Type)
}
