package blockdev_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestMemHardwareLimitValidated: a hardware atomic limit is a power of two
// within the untorn limits.
func TestMemHardwareLimitValidated(t *testing.T) {
	for _, hw := range []int{2048, 12 << 10, 32 << 10} {
		l := blockdev.LimitsNVMe
		l.AtomicHardwareMax = hw
		_, err := blockdev.NewMem(64<<10, l)
		require.ErrorIs(t, err, blockdev.ErrAtomicInvalid, "hardware max %d", hw)
	}
	for _, l := range []blockdev.Limits{blockdev.LimitsNVMe, blockdev.LimitsNVMe64K, blockdev.LimitsXFS} {
		_, err := blockdev.NewMem(64<<10, l)
		require.NoError(t, err)
	}
}

// TestMemBreakAtomicAbove: every Atomic write survives a crash whole (or
// not at all), the hardware ones included; a Mem broken to tear Atomic
// writes above 16 KiB shows a 64 KiB one torn in some clone, and keeps
// 16 KiB ones whole.
func TestMemBreakAtomicAbove(t *testing.T) {
	whole := func(img []byte, off, n int, v byte) bool {
		return bytes.Equal(img[off:off+n], bytes.Repeat([]byte{v}, n)) || bytes.Equal(img[off:off+n], make([]byte, n))
	}
	for _, broken := range []bool{false, true} {
		m, err := blockdev.NewMem(256<<10, blockdev.LimitsNVMe64K)
		require.NoError(t, err)
		if broken {
			m.BreakAtomicAbove(16 << 10)
		}
		memWrite(t, m, 0, 64<<10, 1, blockdev.Atomic)
		memWrite(t, m, 128<<10, 16<<10, 2, blockdev.Atomic)
		torn := false
		for seed := range uint64(32) {
			c := m.CrashClone(blockdev.CrashConfig{Seed: seed, Survive: 0.5})
			img := memRead(t, c)
			require.True(t, whole(img, 128<<10, 16<<10, 2), "a 16 KiB hardware unit is never torn (seed %d)", seed)
			torn = torn || !whole(img, 0, 64<<10, 1)
		}
		require.Equal(t, broken, torn, "broken=%v: a 64 KiB unit torn in some clone", broken)
	}
}
