package blockdev_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

const bs = 4096

func newMem(t *testing.T, size int64) *blockdev.Mem {
	t.Helper()
	m, err := blockdev.NewMem(size, blockdev.LimitsXFS)
	require.NoError(t, err)
	return m
}

// blocksOf reports, for each block of img[off:off+n], whether it is all
// zeros (true) or all b (false); any other content fails the test.
func blocksOf(t *testing.T, img []byte, off, n int64, b byte) []bool {
	t.Helper()
	var zero []bool
	for o := off; o < off+n; o += bs {
		blk := img[o : o+bs]
		switch {
		case bytes.Equal(blk, make([]byte, bs)):
			zero = append(zero, true)
		case bytes.Equal(blk, bytes.Repeat([]byte{b}, bs)):
			zero = append(zero, false)
		default:
			t.Fatalf("block at %d is neither zeros nor %#x", o, b)
		}
	}
	return zero
}

func TestMemDiscardReadsZeros(t *testing.T) {
	m := newMem(t, 64<<10)
	memWrite(t, m, 0, 64<<10, 7, 0)
	require.NoError(t, m.Discard(16<<10, 32<<10))
	require.NoError(t, m.Discard(0, 0))
	img := memRead(t, m)
	require.Equal(t, bytes.Repeat([]byte{7}, 16<<10), img[:16<<10])
	require.Equal(t, make([]byte, 32<<10), img[16<<10:48<<10])
	require.Equal(t, bytes.Repeat([]byte{7}, 16<<10), img[48<<10:])
	s := m.Stats()
	require.EqualValues(t, 2, s.Discards)
	require.EqualValues(t, 1, s.Writes, "a discard is no write in the stats")
	require.Equal(t, 2, m.Volatile(), "the empty discard logs nothing")
}

func TestMemDiscardCrash(t *testing.T) {
	const off, n = 16 << 10, 64 << 10
	m := newMem(t, 128<<10)
	memWrite(t, m, 0, 128<<10, 9, 0)
	require.NoError(t, m.Flush())
	require.NoError(t, m.Discard(off, n))

	all := func(v []bool, want bool) bool {
		for _, z := range v {
			if z != want {
				return false
			}
		}
		return true
	}
	require.True(t, all(blocksOf(t, memRead(t, m.CrashClone(blockdev.CrashConfig{Survive: 1})), off, n, 9), true))
	require.True(t, all(blocksOf(t, memRead(t, m.CrashClone(blockdev.CrashConfig{Survive: 0})), off, n, 9), false))

	var zeros, olds, mixed int
	for seed := range uint64(32) {
		img := memRead(t, m.CrashClone(blockdev.CrashConfig{Seed: seed, Survive: 0.5}))
		require.Equal(t, bytes.Repeat([]byte{9}, off), img[:off], "outside the discard nothing changes")
		require.Equal(t, bytes.Repeat([]byte{9}, 128<<10-off-n), img[off+n:])
		for _, z := range blocksOf(t, img, off, n, 9) {
			if z {
				zeros++
			} else {
				olds++
			}
		}
		if v := blocksOf(t, img, off, n, 9); !all(v, true) && !all(v, false) {
			mixed++
		}
	}
	require.Positive(t, zeros, "some blocks of the discard survive")
	require.Positive(t, olds, "some blocks keep the old data")
	require.Positive(t, mixed, "a discard can tear at block size like a plain write")

	require.NoError(t, m.Flush())
	img := memRead(t, m.CrashClone(blockdev.CrashConfig{Survive: 0}))
	require.Equal(t, make([]byte, n), img[off:off+n], "after Flush the zeros are durable")
}

func TestSpaceValidation(t *testing.T) {
	f, err := blockdev.OpenFile(filepath.Join(t.TempDir(), "v"), blockdev.FileOptions{Size: 64 << 10, Create: true})
	require.NoError(t, err)
	devs := map[string]blockdev.Discarder{"mem": newMem(t, 64<<10), "file": f, "fault": blockdev.WithFaults(newMem(t, 64<<10), nil)}
	type badRange struct {
		name   string
		off, n int64
		want   error
	}
	for name, d := range devs {
		half := int64(d.Limits().BlockSize / 2)
		ranges := []badRange{
			{"negative offset", -bs, bs, blockdev.ErrOutOfRange},
			{"negative length", 0, -bs, blockdev.ErrOutOfRange},
			{"misaligned offset", half, bs, blockdev.ErrMisaligned},
			{"misaligned length", 0, half, blockdev.ErrMisaligned},
			{"past the end", 60 << 10, 8 << 10, blockdev.ErrOutOfRange},
			{"offset past the end", 68 << 10, 0, blockdev.ErrOutOfRange},
			{"huge", bs, 1<<63 - 1, blockdev.ErrOutOfRange},
		}
		for _, r := range ranges {
			err := d.Discard(r.off, r.n)
			require.ErrorIs(t, err, r.want, "%s: discard %s", name, r.name)
			var oe *blockdev.OpError
			require.True(t, errors.As(err, &oe), "%s: %v", name, err)
			// A regular file takes allocations past its end (KEEP_SIZE).
			pastEnd := r.name == "past the end" || r.name == "offset past the end"
			if rs, ok := d.(blockdev.Resizer); ok && name != "fault" && !pastEnd {
				require.ErrorIs(t, rs.Allocate(r.off, r.n), r.want, "%s: allocate %s", name, r.name)
			}
		}
		require.NoError(t, d.Discard(64<<10, 0), "%s: an empty range at the end", name)
	}
	require.ErrorIs(t, f.Resize(-bs), blockdev.ErrOutOfRange)
	require.ErrorIs(t, f.Resize(bs+int64(f.Limits().BlockSize/2)), blockdev.ErrMisaligned)
	require.EqualValues(t, 64<<10, f.Size(), "a refused Resize changes nothing")

	for name, d := range devs {
		require.NoError(t, d.Close())
		require.ErrorIs(t, d.Discard(0, bs), blockdev.ErrClosed, name)
	}
	require.ErrorIs(t, f.Resize(128<<10), blockdev.ErrClosed)
	require.ErrorIs(t, f.Allocate(0, bs), blockdev.ErrClosed)
	_, ok := blockdev.AllocatedBytes(f)
	require.False(t, ok, "a closed File cannot tell")
}

// plainDevice hides every method but those of Device.
type plainDevice struct{ blockdev.Device }

func TestFaultDeviceSpace(t *testing.T) {
	m := newMem(t, 64<<10)
	memWrite(t, m, 0, 64<<10, 3, 0)
	d := blockdev.WithFaults(m, blockdev.AtIndex(1, blockdev.ErrInjectedENOSPC))
	require.NoError(t, d.Discard(0, bs), "op 0 runs")
	err := d.Discard(bs, bs)
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.ErrorIs(t, err, blockdev.ErrInjected)
	var oe *blockdev.OpError
	require.True(t, errors.As(err, &oe))
	require.Equal(t, "discard", oe.Op)
	img := memRead(t, m)
	require.Equal(t, make([]byte, bs), img[:bs])
	require.Equal(t, bytes.Repeat([]byte{3}, bs), img[bs:2*bs], "the failed discard did nothing")
	require.EqualValues(t, 1, m.Stats().Discards)

	// Mem is no Resizer: refused at once, neither numbered nor offered.
	before := d.Ops()
	require.ErrorIs(t, d.Resize(128<<10), blockdev.ErrNotSupported)
	require.ErrorIs(t, d.Allocate(0, bs), blockdev.ErrNotSupported)
	require.Equal(t, before, d.Ops())
	_, ok := blockdev.AllocatedBytes(d)
	require.False(t, ok, "Mem cannot tell")

	p := blockdev.WithFaults(plainDevice{newMem(t, 64<<10)}, nil)
	require.ErrorIs(t, p.Discard(0, bs), blockdev.ErrNotSupported)
	require.Zero(t, p.Ops())

	// Write-kind filters catch the space operations.
	writes := blockdev.OnlyKinds(blockdev.FromIndex(0, blockdev.ErrInjectedEIO), blockdev.OpWrite)
	d.SetInjector(writes)
	require.ErrorIs(t, d.Discard(0, bs), syscall.EIO)
	_, err = d.ReadAt(blockdev.AlignedBuffer(bs, 512), 0)
	require.NoError(t, err)
}

func TestFaultDeviceSpaceOverFile(t *testing.T) {
	f, err := blockdev.OpenFile(filepath.Join(t.TempDir(), "f"), blockdev.FileOptions{Size: 1 << 20, Create: true})
	require.NoError(t, err)
	var ops []blockdev.Op
	d := blockdev.WithFaults(f, blockdev.InjectorFunc(func(op blockdev.Op) error {
		ops = append(ops, op)
		if op.Index == 2 {
			return blockdev.ErrInjectedENOSPC
		}
		return nil
	}))
	defer d.Close()
	require.NoError(t, d.Resize(2<<20))
	require.EqualValues(t, 2<<20, d.Size())
	require.NoError(t, d.Allocate(0, 1<<20))
	err = d.Allocate(1<<20, 1<<20)
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.NoError(t, d.Discard(0, 1<<20))
	require.Equal(t, []blockdev.Op{
		{Index: 0, Kind: blockdev.OpWrite, Off: 2 << 20},
		{Index: 1, Kind: blockdev.OpWrite, Off: 0, Len: 1 << 20},
		{Index: 2, Kind: blockdev.OpWrite, Off: 1 << 20, Len: 1 << 20},
		{Index: 3, Kind: blockdev.OpWrite, Off: 0, Len: 1 << 20},
	}, ops)
	n, ok := blockdev.AllocatedBytes(d)
	require.True(t, ok)
	require.Less(t, n, int64(1<<20), "the discard gave back what Allocate took; the injected failure took nothing")
}
