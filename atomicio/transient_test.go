package atomicio

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestTransientFaultCOW: in COW mode (the default) one ENOSPC or EIO from
// the device, at any of a Sync's device operations, is reported by that
// Sync, the dirty data stays in the cache, and once the device works again
// the next Sync succeeds and everything is durable and whole. (Issue 11:
// the container used to stay failed for good.)
func TestTransientFaultCOW(t *testing.T) {
	t.Parallel()
	faults := map[string]error{"ENOSPC": blockdev.ErrInjectedENOSPC, "EIO": blockdev.ErrInjectedEIO}
	for name, fault := range faults {
		for k := uint64(0); ; k++ {
			mem, err := blockdev.NewMem(8<<20, blockdev.LimitsNone)
			require.NoError(t, err)
			dev := blockdev.WithFaults(mem, nil)
			f, err := OpenDevice(dev, Options{FlushInterval: -1, CacheSize: 4 << 20})
			require.NoError(t, err)
			require.Equal(t, ModeCOW, f.Mode())
			// Age the container first, so that the Sync below also cleans
			// and checkpoints.
			want := make([]byte, f.Size())
			for i := range 400 {
				p := pattern(5000+i*37%9000, byte(i+1))
				off := int64(i) * 200011 % int64(len(want)-len(p))
				_, err := WriteAt(f, p, off)
				require.NoError(t, err)
				copy(want[off:], p)
				if i%50 == 49 && i < 350 {
					require.NoError(t, f.Sync())
				}
			}
			start := dev.Ops()
			dev.SetInjector(blockdev.AtIndex(start+k, fault))
			err = f.Sync()
			hit := dev.Ops() > start+k
			if !hit {
				require.NoError(t, err)
				dev.SetInjector(nil)
				require.NoError(t, f.Close())
				t.Logf("%s: a fault at each of the Sync's %d device operations was reported and then recovered from", name, k)
				require.Greater(t, k, uint64(5), "the Sync must do more than one commit and flush")
				break
			}
			if err != nil {
				require.ErrorIs(t, err, blockdev.ErrInjected, "fault at %d", k)
				require.True(t, errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO))
				require.Positive(t, f.Stats().DirtyBytes, "fault at %d: the dirty data is kept", k)
			}
			dev.SetInjector(nil) // the device works again
			require.NoError(t, f.Sync(), "fault at %d: the next Sync on a working device succeeds", k)
			got := make([]byte, len(want))
			_, err = f.ReadAt(got, 0)
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, got), "fault at %d: reads", k)

			crashed, err := OpenDevice(mem.CrashClone(blockdev.CrashConfig{Seed: k, Survive: 0.5}), Options{})
			require.NoError(t, err, "fault at %d: reopen after a crash", k)
			_, err = crashed.ReadAt(got, 0)
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, got), "fault at %d: durable after the Sync that succeeded", k)
			require.NoError(t, crashed.Close())
			require.NoError(t, f.Close(), "fault at %d: Close works on a working device", k)
		}
	}
}

// TestInterruptedFormatFormatsAgain: a COW Format cut after it marked the
// roots (a process killed, a power cut) leaves no container and no data;
// OpenDevice formats such a device again instead of refusing it as a
// device that holds other data.
func TestInterruptedFormatFormatsAgain(t *testing.T) {
	for k := 2; k < 6; k++ {
		mem, err := blockdev.NewMem(8<<20, blockdev.LimitsNone)
		require.NoError(t, err)
		cp := blockdev.NewCrashPoint(mem)
		cp.Arm(k, blockdev.CrashConfig{Survive: 1})
		f, err := OpenDevice(blockdev.WithFaults(mem, cp), Options{})
		require.NoError(t, err)
		require.NoError(t, f.Close())
		img, ok := cp.Take()
		require.True(t, ok)
		f, err = OpenDevice(img, Options{})
		require.NoError(t, err, "cut at %d", k)
		require.Equal(t, ModeCOW, f.Mode())
		p := pattern(10000, 3)
		_, err = WriteAt(f, p, 777)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
}

// TestLargeBlocksRefused: a device whose blocks are larger than the cache's
// 4 KiB page could not be written page by page; OpenDevice refuses it with
// ErrInvalid instead of accepting it and failing every Sync.
func TestLargeBlocksRefused(t *testing.T) {
	mem, err := blockdev.NewMem(8<<20, blockdev.Limits{BlockSize: 8192, MemAlign: 512})
	require.NoError(t, err)
	_, err = OpenDevice(mem, Options{})
	require.ErrorIs(t, err, ErrInvalid)
}
