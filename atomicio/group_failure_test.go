package atomicio

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// failReadsOf fails with EIO every device read that touches [lo, hi).
func failReadsOf(lo, hi int64) blockdev.Injector {
	return blockdev.OnlyKinds(blockdev.Overlapping(lo, hi, blockdev.ErrInjectedEIO), blockdev.OpRead)
}

// durableAt reads [off, off+n) of what a power cut would leave on mem now:
// only data a completed Flush made durable.
func durableAt(t *testing.T, mem *blockdev.Mem, off int64, n int) []byte {
	t.Helper()
	clone := mem.CrashClone(blockdev.CrashConfig{Survive: 0})
	lo := off &^ 4095
	buf := blockdev.AlignedBuffer(int((off+int64(n)+4095)&^4095-lo), 4096)
	_, err := clone.ReadAt(buf, lo)
	require.NoError(t, err)
	return buf[off-lo : off-lo+int64(n)]
}

// TestUnreadableBlockFailsOnlyItsGroupNative: in native mode an untorn
// write that does not fill its power-of-two unit needs the rest of the unit
// read from the device. When that read fails, only that unit's group stays
// dirty: every other group of the pass is written and flushed, so it is
// durable, while Sync reports the error (every Sync, until the data is
// written). Once the block reads again the next Sync writes the rest.
func TestUnreadableBlockFailsOnlyItsGroupNative(t *testing.T) {
	mem, err := blockdev.NewMem(1<<20, blockdev.LimitsXFS)
	require.NoError(t, err)
	dev := blockdev.WithFaults(mem, nil)
	f, err := OpenDevice(dev, Options{Mode: ModeNative, CacheSize: 1 << 20, FlushInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Abandon() })
	require.Equal(t, ModeNative, f.Mode())

	// [6K, 10K) needs the unit [0, 16K): pages [4K, 12K) are cached by the
	// write, [0, 4K) and [12K, 16K) must be read when the unit is written.
	bad := pattern(4096, 1)
	_, err = WriteAt(f, bad, 6<<10)
	require.NoError(t, err)
	others := []struct {
		off    int64
		p      []byte
		untorn bool
	}{
		{64 << 10, pattern(16<<10, 2), true},      // a whole unit, straight from its folio
		{128 << 10, pattern(8<<10, 3), false},     // plain
		{256<<10 + 6<<10, pattern(4096, 4), true}, // another unit read around, from readable blocks
	}
	for _, o := range others {
		if o.untorn {
			_, err = WriteAt(f, o.p, o.off)
		} else {
			_, err = f.WriteAt(o.p, o.off)
		}
		require.NoError(t, err)
	}

	dev.SetInjector(failReadsOf(12<<10, 16<<10))
	for range 2 {
		err = f.Sync()
		require.ErrorIs(t, err, blockdev.ErrInjected)
		require.ErrorIs(t, err, syscall.EIO)
		require.ErrorIs(t, f.Stats().LastError, syscall.EIO)
		for _, o := range others {
			require.Equal(t, o.p, durableAt(t, mem, o.off, len(o.p)), "the group at %d is durable", o.off)
		}
		require.Equal(t, make([]byte, len(bad)), durableAt(t, mem, 6<<10, len(bad)), "the failed unit is not written")
		require.Equal(t, int64(8<<10), f.Stats().DirtyBytes, "only the failed group stays dirty")
	}

	dev.SetInjector(nil)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Stats().LastError)
	require.Zero(t, f.Stats().DirtyBytes)
	require.Equal(t, bad, durableAt(t, mem, 6<<10, len(bad)))
	for _, o := range others {
		require.Equal(t, o.p, durableAt(t, mem, o.off, len(o.p)))
	}
	require.NoError(t, f.Close())
}

// TestUnreadableBlockDoesNotStopBackgroundWriteback: the background flusher
// also keeps writing everything else while one unit cannot be read around.
func TestUnreadableBlockDoesNotStopBackgroundWriteback(t *testing.T) {
	mem, err := blockdev.NewMem(1<<20, blockdev.LimitsXFS)
	require.NoError(t, err)
	dev := blockdev.WithFaults(mem, nil)
	f, err := OpenDevice(dev, Options{Mode: ModeNative, CacheSize: 1 << 20, FlushInterval: time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Abandon() })

	dev.SetInjector(failReadsOf(12<<10, 16<<10))
	_, err = WriteAt(f, pattern(4096, 1), 6<<10) // its fill reads [4K, 12K): readable
	require.NoError(t, err)
	p := pattern(16<<10, 2)
	_, err = WriteAt(f, p, 64<<10)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return string(durableAt(t, mem, 64<<10, len(p))) == string(p)
	}, 5*time.Second, time.Millisecond, "the readable group becomes durable in the background")
	require.ErrorIs(t, f.Sync(), syscall.EIO)
	dev.SetInjector(nil)
	require.NoError(t, f.Close())
}
