package blockdev_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/devicetest"
)

func newMemFile(t *testing.T, size, limit int64) *blockdev.Mem {
	t.Helper()
	m, err := blockdev.NewMemFile(size, limit, blockdev.LimitsXFS)
	require.NoError(t, err)
	return m
}

func TestMemFileContract(t *testing.T) {
	devicetest.Run(t, func(t *testing.T) blockdev.Device {
		return newMemFile(t, devicetest.MinSize, 2*devicetest.MinSize)
	})
}

// TestMemFileResize: a Mem made by NewMemFile is Resizable, starts at any
// size up to its limit (0 too), grows with zeros, loses what a cut cut,
// refuses sizes past its limit; a Mem made by NewMem has a fixed size.
func TestMemFileResize(t *testing.T) {
	_, err := blockdev.NewMemFile(2*bs, bs, blockdev.LimitsXFS)
	require.ErrorIs(t, err, blockdev.ErrOutOfRange, "a size past the limit")
	_, err = blockdev.NewMemFile(0, bs+1, blockdev.LimitsXFS)
	require.Error(t, err, "a limit that is no block multiple")

	m := newMemFile(t, 0, 16*bs)
	require.True(t, blockdev.Resizable(m))
	require.True(t, blockdev.Resizable(blockdev.WithFaults(m, nil)))
	require.False(t, blockdev.Resizable(newMem(t, 16*bs)))
	require.Zero(t, m.Size())
	_, err = m.WriteAt(blockdev.AlignedBuffer(bs, 512), 0, 0)
	require.ErrorIs(t, err, blockdev.ErrOutOfRange, "nothing past the size")

	require.NoError(t, m.Resize(4*bs))
	require.EqualValues(t, 4*bs, m.Size())
	memWrite(t, m, 0, 4*bs, 7, 0)
	require.NoError(t, m.Resize(2*bs))
	require.NoError(t, m.Resize(3*bs))
	img := memRead(t, m)
	require.Equal(t, bytes.Repeat([]byte{7}, 2*bs), img[:2*bs])
	require.Equal(t, make([]byte, bs), img[2*bs:], "what a cut cut reads as zeros after growth")
	require.ErrorIs(t, m.Resize(17*bs), blockdev.ErrOutOfRange)
	require.ErrorIs(t, m.Resize(bs+1), blockdev.ErrMisaligned)
	require.NoError(t, m.Allocate(15*bs, bs), "past the size, within the limit")
	require.ErrorIs(t, m.Allocate(16*bs, bs), blockdev.ErrOutOfRange)
	require.EqualValues(t, 3, m.Stats().Resizes)

	fixed := newMem(t, 4*bs)
	require.ErrorIs(t, fixed.Resize(8*bs), blockdev.ErrNotSupported)
	require.ErrorIs(t, fixed.Allocate(0, bs), blockdev.ErrNotSupported)
	require.EqualValues(t, 4*bs, fixed.Size())
	// Neither numbered nor offered through a FaultDevice.
	fd := blockdev.WithFaults(fixed, nil)
	require.ErrorIs(t, fd.Resize(8*bs), blockdev.ErrNotSupported)
	require.Zero(t, fd.Ops())
	ff := blockdev.WithFaults(m, blockdev.AtIndex(0, blockdev.ErrInjectedENOSPC))
	require.ErrorIs(t, ff.Resize(8*bs), blockdev.ErrInjected, "a Resize is injected (as a write)")
	require.EqualValues(t, 3*bs, m.Size(), "a failed Resize changes nothing")
	require.NoError(t, ff.Resize(8*bs))

	require.NoError(t, m.Close())
	require.ErrorIs(t, m.Resize(bs), blockdev.ErrClosed)
}

// TestMemFileCrashModel: the size is in the crash model. Resizes since
// the last Flush survive as a prefix, writes past the size that survived
// are gone, a FUA write commits the resizes before it, a Flush all.
func TestMemFileCrashModel(t *testing.T) {
	m := newMemFile(t, 2*bs, 16*bs)
	memWrite(t, m, 0, 2*bs, 1, 0)
	require.NoError(t, m.Flush())
	require.NoError(t, m.Resize(8*bs)) // r1
	memWrite(t, m, 4*bs, bs, 2, 0)
	require.NoError(t, m.Resize(4*bs)) // r2: cuts the write at block 4
	memWrite(t, m, bs, bs, 3, 0)
	require.NoError(t, m.Resize(6*bs)) // r3
	memWrite(t, m, 5*bs, bs, 4, 0)

	none := m.CrashClone(blockdev.CrashConfig{Survive: 0})
	require.EqualValues(t, 2*bs, none.Size(), "no resize survives")
	require.Equal(t, bytes.Repeat([]byte{1}, 2*bs), memRead(t, none))
	all := m.CrashClone(blockdev.CrashConfig{Survive: 1})
	require.EqualValues(t, 6*bs, all.Size())
	require.Equal(t, memRead(t, m), memRead(t, all))

	sizes := map[int64]int{}
	for seed := range uint64(64) {
		c := m.CrashClone(blockdev.CrashConfig{Seed: seed, Survive: 0.5})
		sizes[c.Size()]++
		img := memRead(t, c)
		for b := int64(0); b < c.Size()/bs; b++ {
			blk := img[b*bs : (b+1)*bs]
			ok := false
			for _, v := range []byte{0, 1, 2, 3, 4} {
				ok = ok || bytes.Equal(blk, bytes.Repeat([]byte{v}, bs))
			}
			require.True(t, ok, "seed %d block %d", seed, b)
			switch {
			case b >= 2 && b != 4 && b != 5:
				require.Equal(t, make([]byte, bs), blk, "seed %d: growth reads as zeros", seed)
			case b == 4 && c.Size() != 8*bs:
				require.Equal(t, make([]byte, bs), blk, "seed %d: the write at block 4 went with the cut r2", seed)
			}
		}
		require.Contains(t, []int64{2 * bs, 8 * bs, 4 * bs, 6 * bs}, c.Size())
	}
	require.Len(t, sizes, 4, "every prefix of the resizes comes up: %v", sizes)

	// A FUA write commits the resizes before it.
	memWrite(t, m, 0, bs, 5, blockdev.FUA)
	require.NoError(t, m.Resize(10*bs))
	c := m.CrashClone(blockdev.CrashConfig{Survive: 0})
	require.EqualValues(t, 6*bs, c.Size(), "the resizes before the FUA write survive, the one after does not")
	require.Equal(t, bytes.Repeat([]byte{5}, bs), memRead(t, c)[:bs])

	require.NoError(t, m.Flush())
	c = m.CrashClone(blockdev.CrashConfig{Survive: 0})
	require.EqualValues(t, 10*bs, c.Size(), "a Flush makes the size durable")
	require.Equal(t, memRead(t, m), memRead(t, c))
	require.True(t, blockdev.Resizable(c), "a clone is a file too")
}
