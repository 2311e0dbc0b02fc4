package blockdev_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/devicetest"
)

func TestMemContract(t *testing.T) {
	for name, l := range blockdev.MemProfiles() {
		t.Run(name, func(t *testing.T) {
			devicetest.Run(t, func(t *testing.T) blockdev.Device {
				m, err := blockdev.NewMem(devicetest.MinSize, l)
				require.NoError(t, err)
				return m
			})
		})
	}
}

func TestNewMemRejectsBadLimits(t *testing.T) {
	cases := []struct {
		name string
		size int64
		l    blockdev.Limits
		want error
	}{
		{"zero size", 0, blockdev.LimitsXFS, blockdev.ErrOutOfRange},
		{"size not a block multiple", 4097, blockdev.LimitsXFS, blockdev.ErrOutOfRange},
		{"block size not a power of two", 3000 * 4, blockdev.Limits{BlockSize: 3000}, blockdev.ErrMisaligned},
		{"atomic min below block", 1 << 20, blockdev.Limits{BlockSize: 4096, AtomicMin: 512, AtomicMax: 4096}, blockdev.ErrAtomicInvalid},
		{"atomic max below min", 1 << 20, blockdev.Limits{BlockSize: 4096, AtomicMin: 8192, AtomicMax: 4096}, blockdev.ErrAtomicInvalid},
		{"atomic max not a power of two", 1 << 20, blockdev.Limits{BlockSize: 4096, AtomicMin: 4096, AtomicMax: 12288}, blockdev.ErrAtomicInvalid},
	}
	for _, c := range cases {
		_, err := blockdev.NewMem(c.size, c.l)
		require.ErrorIs(t, err, c.want, c.name)
	}
}

func memWrite(t *testing.T, m *blockdev.Mem, off int64, n int, b byte, flags blockdev.Flags) {
	t.Helper()
	buf := blockdev.AlignedBuffer(n, m.Limits().MemAlign)
	for i := range buf {
		buf[i] = b
	}
	_, err := m.WriteAt(buf, off, flags)
	require.NoError(t, err)
}

func memRead(t *testing.T, d blockdev.Device) []byte {
	t.Helper()
	buf := blockdev.AlignedBuffer(int(d.Size()), d.Limits().MemAlign)
	_, err := d.ReadAt(buf, 0)
	require.NoError(t, err)
	return buf
}

func TestCrashCloneIsIndependent(t *testing.T) {
	m, err := blockdev.NewMem(64<<10, blockdev.LimitsXFS)
	require.NoError(t, err)
	memWrite(t, m, 0, 16<<10, 1, 0)
	require.NoError(t, m.Flush())
	memWrite(t, m, 16<<10, 16<<10, 2, blockdev.Atomic)

	clone := m.CrashClone(blockdev.CrashConfig{Survive: 1})
	require.Equal(t, memRead(t, m), memRead(t, clone), "Survive 1 keeps every write")
	// Writing to the clone leaves the original alone, and the other way round.
	before := memRead(t, m)
	memWrite(t, clone, 0, 4096, 9, 0)
	require.Equal(t, before, memRead(t, m))
	memWrite(t, m, 32<<10, 4096, 7, 0)
	require.Equal(t, byte(0), memRead(t, clone)[32<<10])
	require.Equal(t, 1, m.Volatile()-1, "the original keeps its volatile log")
	require.Zero(t, m.CrashClone(blockdev.CrashConfig{}).Volatile())
}

func TestCrashCloneSurviveExtremes(t *testing.T) {
	m, err := blockdev.NewMem(64<<10, blockdev.LimitsNVMe)
	require.NoError(t, err)
	memWrite(t, m, 0, 8192, 1, 0)
	require.NoError(t, m.Flush())
	durable := memRead(t, m)
	memWrite(t, m, 0, 16<<10, 2, blockdev.Atomic)
	memWrite(t, m, 16<<10, 8192, 3, 0)
	memWrite(t, m, 32<<10, 4096, 4, blockdev.FUA)

	none := memRead(t, m.CrashClone(blockdev.CrashConfig{Survive: 0}))
	want := bytes.Clone(durable)
	copy(want[32<<10:], bytes.Repeat([]byte{4}, 4096)) // FUA survives regardless
	require.Equal(t, want, none)
	require.Equal(t, memRead(t, m), memRead(t, m.CrashClone(blockdev.CrashConfig{Survive: 1})))
}

func TestCrashCloneDeterministic(t *testing.T) {
	m, err := blockdev.NewMem(256<<10, blockdev.LimitsNVMe)
	require.NoError(t, err)
	for i := range 32 {
		memWrite(t, m, int64(i%16)*16<<10, 16<<10, byte(i), blockdev.Flags(i%2))
	}
	cfg := blockdev.CrashConfig{Seed: 42, Survive: 0.5}
	a, b := memRead(t, m.CrashClone(cfg)), memRead(t, m.CrashClone(cfg))
	require.Equal(t, a, b, "same seed, same clone")
	differs := false
	for seed := uint64(1); seed < 20 && !differs; seed++ {
		differs = !bytes.Equal(a, memRead(t, m.CrashClone(blockdev.CrashConfig{Seed: seed, Survive: 0.5})))
	}
	require.True(t, differs, "other seeds must pick other subsets")
}

func TestCrashCloneAfterClose(t *testing.T) {
	m, err := blockdev.NewMem(64<<10, blockdev.LimitsNone)
	require.NoError(t, err)
	memWrite(t, m, 0, 4096, 5, blockdev.FUA)
	require.NoError(t, m.Close())
	clone := m.CrashClone(blockdev.CrashConfig{})
	require.Equal(t, byte(5), memRead(t, clone)[0])
}

func TestMemStats(t *testing.T) {
	m, err := blockdev.NewMem(64<<10, blockdev.LimitsXFS)
	require.NoError(t, err)
	memWrite(t, m, 0, 8192, 1, blockdev.Atomic|blockdev.FUA)
	memWrite(t, m, 8192, 4096, 1, 0)
	require.NoError(t, m.Flush())
	memRead(t, m)
	s := m.Stats()
	require.Equal(t, blockdev.MemStats{Reads: 0, Writes: 2, AtomicWrites: 1, FUAWrites: 1, Flushes: 1, BytesWritten: 12288}, blockdev.MemStats{
		Writes: s.Writes, AtomicWrites: s.AtomicWrites, FUAWrites: s.FUAWrites, Flushes: s.Flushes, BytesWritten: s.BytesWritten,
	})
	require.EqualValues(t, 1, s.Reads)
	require.EqualValues(t, 64<<10, s.BytesRead)
}
