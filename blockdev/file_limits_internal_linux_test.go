package blockdev

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLimitsHardwareMax: statx's atomic_write_unit_max_opt becomes
// AtomicHardwareMax, clipped to the untorn limits and rounded down to a
// power of two; 0 (XFS's software atomics, an older kernel) means none.
func TestLimitsHardwareMax(t *testing.T) {
	base := AtomicInfo{DIOReported: true, DIOMemAlign: 512, DIOOffsetAlign: 4096,
		AtomicReported: true, AtomicAttr: true, AtomicUnitMin: 4096, AtomicUnitMax: 2 << 20, AtomicSegmentsMax: 1}
	for _, c := range []struct {
		opt  uint32
		want int
	}{
		{0, 0},               // software only
		{16 << 10, 16 << 10}, // an NVMe drive's 16 KiB
		{64 << 10, 64 << 10},
		{24 << 10, 16 << 10}, // not a power of two: the largest one below
		{2048, 0},            // below the smallest unit
		{8 << 20, 2 << 20},   // clipped to the largest untorn write
	} {
		info := base
		info.AtomicUnitMaxOpt = c.opt
		l := info.limits()
		require.Equal(t, c.want, l.AtomicHardwareMax, "unit max opt %d", c.opt)
		if c.want > 0 {
			require.True(t, l.HardwareUnit(int64(c.want), c.want))
			require.False(t, l.HardwareUnit(int64(c.want), 2*c.want), "beyond the hardware limit")
			require.False(t, l.HardwareUnit(4096, 8192), "not naturally aligned")
		}
	}
	none := base
	none.AtomicAttr = false
	none.AtomicUnitMaxOpt = 16 << 10
	require.Zero(t, none.limits().AtomicHardwareMax, "no untorn writes at all: no hardware ones")
	require.False(t, none.limits().HardwareUnit(0, 4096))
}
