package blockdev_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

func TestCheckAtomic(t *testing.T) {
	l := blockdev.Limits{BlockSize: 4096, AtomicMin: 4096, AtomicMax: 64 << 10, MemAlign: 512}
	cases := []struct {
		off  int64
		n    int
		want error
	}{
		{0, 4096, nil},
		{64 << 10, 64 << 10, nil},
		{8192, 8192, nil},
		{4096, 8192, blockdev.ErrAtomicInvalid},   // offset not a multiple of the length
		{0, 12288, blockdev.ErrAtomicInvalid},     // not a power of two
		{0, 2048, blockdev.ErrAtomicInvalid},      // below the minimum
		{0, 128 << 10, blockdev.ErrAtomicInvalid}, // above the maximum
		{0, 0, blockdev.ErrAtomicInvalid},
		{0, -4096, blockdev.ErrAtomicInvalid},
	}
	for _, c := range cases {
		err := blockdev.CheckAtomic(l, c.off, c.n)
		if c.want == nil {
			require.NoError(t, err, "%d at %d", c.n, c.off)
		} else {
			require.ErrorIs(t, err, c.want, "%d at %d", c.n, c.off)
		}
	}
	require.ErrorIs(t, blockdev.CheckAtomic(blockdev.LimitsNone, 0, 4096), blockdev.ErrAtomicUnsupported)
}

func TestAlignedBuffer(t *testing.T) {
	for _, align := range []int{0, 1, 512, 4096, 1 << 16} {
		for _, n := range []int{0, 1, 4096, 5000} {
			b := blockdev.AlignedBuffer(n, align)
			require.Len(t, b, n)
			require.Equal(t, n, cap(b), "appending must not run into the padding")
			require.True(t, blockdev.IsAligned(b, align))
		}
	}
	require.Nil(t, blockdev.AlignedBuffer(-1, 4096))
	require.False(t, blockdev.IsAligned(blockdev.AlignedBuffer(64, 4096)[1:], 4096))
}

func TestFlagsString(t *testing.T) {
	require.Equal(t, "0", blockdev.Flags(0).String())
	require.Equal(t, "Atomic|FUA", (blockdev.Atomic | blockdev.FUA).String())
	require.Equal(t, "FUA|unknown", (blockdev.FUA | 1<<7).String())
}

func TestOpErrorMessage(t *testing.T) {
	err := &blockdev.OpError{Op: "write", Path: "/x", Off: 4096, Len: 512, Err: blockdev.ErrClosed}
	require.Equal(t, "blockdev: write /x at 4096+512: blockdev: device closed", err.Error())
	require.ErrorIs(t, err, blockdev.ErrClosed)
	flush := &blockdev.OpError{Op: "flush", Off: -1, Err: blockdev.ErrClosed}
	require.Equal(t, "blockdev: flush: blockdev: device closed", flush.Error())
}
