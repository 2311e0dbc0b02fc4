package atomicio

import (
	"bytes"
	"io"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// openMem opens a File over a new Mem with limits l, closed (or abandoned)
// on cleanup, and checks that no goroutine outlives it.
func openMem(t *testing.T, size int64, l blockdev.Limits, opts Options) (*File, *blockdev.Mem) {
	t.Helper()
	mem, err := blockdev.NewMem(size, l)
	require.NoError(t, err)
	f, err := OpenDevice(mem, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Abandon() })
	return f, mem
}

func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7)
	}
	return p
}

func TestBadInputChangesNothing(t *testing.T) {
	f, _ := openMem(t, 1<<20, blockdev.LimitsXFS, Options{MaxAtomic: 64 << 10})
	before := make([]byte, f.Size())
	_, err := f.ReadAt(before, 0)
	require.NoError(t, err)

	_, err = WriteAt(f, []byte("x"), -1)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = f.WriteAt([]byte("x"), -1)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = WriteAt(f, make([]byte, 8192), f.Size()-4096)
	require.ErrorIs(t, err, ErrOutOfRange)
	_, err = f.WriteAt(make([]byte, 1), f.Size())
	require.ErrorIs(t, err, ErrOutOfRange)
	_, err = WriteAt(f, make([]byte, 64<<10+1), 0)
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = WriteAt(nil, []byte("x"), 0)
	require.ErrorIs(t, err, ErrInvalid)
	n, err := WriteAt(f, nil, 0)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = f.WriteAt([]byte{}, 5)
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = f.ReadAt(make([]byte, 1), -1)
	require.ErrorIs(t, err, ErrInvalid)

	after := make([]byte, f.Size())
	_, err = f.ReadAt(after, 0)
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Zero(t, f.Stats().DirtyBytes)

	_, err = OpenDevice(nil, Options{})
	require.ErrorIs(t, err, ErrInvalid)
	mem, err := blockdev.NewMem(1<<20, blockdev.LimitsXFS)
	require.NoError(t, err)
	_, err = OpenDevice(mem, Options{CacheSize: -1})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = OpenDevice(mem, Options{Mode: Mode(9)})
	require.ErrorIs(t, err, ErrInvalid)
}

func TestReadAtEOF(t *testing.T) {
	f, _ := openMem(t, 64<<10, blockdev.LimitsXFS, Options{})
	p := pattern(100, 1)
	_, err := WriteAt(f, p, f.Size()-100)
	require.NoError(t, err)
	buf := make([]byte, 200)
	n, err := f.ReadAt(buf, f.Size()-100)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, 100, n)
	require.Equal(t, p, buf[:100])
	n, err = f.ReadAt(buf, f.Size())
	require.ErrorIs(t, err, io.EOF)
	require.Zero(t, n)
}

func TestUseAfterClose(t *testing.T) {
	f, _ := openMem(t, 64<<10, blockdev.LimitsXFS, Options{})
	require.NoError(t, f.Close())
	_, err := WriteAt(f, []byte("x"), 0)
	require.ErrorIs(t, err, ErrClosed)
	_, err = f.WriteAt([]byte("x"), 0)
	require.ErrorIs(t, err, ErrClosed)
	_, err = f.ReadAt(make([]byte, 1), 0)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, f.Sync(), ErrClosed)
	require.ErrorIs(t, f.Close(), ErrClosed)
	require.ErrorIs(t, f.Abandon(), ErrClosed)
	require.Equal(t, ModeNative, f.Stats().Mode, "Stats works after Close")
}

func TestNoGoroutineLeftAfterClose(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 5 {
		mem, err := blockdev.NewMem(1<<20, blockdev.LimitsXFS)
		require.NoError(t, err)
		f, err := OpenDevice(mem, Options{FlushInterval: time.Millisecond})
		require.NoError(t, err)
		_, err = WriteAt(f, pattern(40000, 3), 1234)
		require.NoError(t, err)
		time.Sleep(3 * time.Millisecond)
		require.NoError(t, f.Close())
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left after Close")
}

// TestErrorsStick: a failed writeback leaves the data dirty, every Sync
// reports the device's error until the data is written, Close refuses to
// drop it, and once the device heals the data becomes durable.
func TestErrorsStick(t *testing.T) {
	for injectedErr, errno := range map[error]error{blockdev.ErrInjectedEIO: syscall.EIO, blockdev.ErrInjectedENOSPC: syscall.ENOSPC} {
		mem, err := blockdev.NewMem(1<<20, blockdev.LimitsXFS)
		require.NoError(t, err)
		dev := blockdev.WithFaults(mem, nil)
		f, err := OpenDevice(dev, Options{FlushInterval: -1})
		require.NoError(t, err)
		p := pattern(20000, 9)
		_, err = WriteAt(f, p, 5000)
		require.NoError(t, err)

		dev.SetInjector(blockdev.OnlyKinds(blockdev.FromIndex(0, injectedErr), blockdev.OpWrite, blockdev.OpAtomicWrite))
		for range 3 {
			err = f.Sync()
			require.ErrorIs(t, err, injectedErr)
			require.ErrorIs(t, err, errno)
		}
		require.ErrorIs(t, f.Stats().LastError, blockdev.ErrInjected)
		require.Positive(t, f.Stats().DirtyBytes, "dirty data is kept")
		require.ErrorIs(t, f.Close(), injectedErr, "Close reports the error and keeps the data")
		got := make([]byte, len(p))
		_, err = f.ReadAt(got, 5000)
		require.NoError(t, err)
		require.Equal(t, p, got)

		dev.SetInjector(nil)
		require.NoError(t, f.Sync())
		require.NoError(t, f.Stats().LastError)
		img := make([]byte, 64<<10)
		clone := mem.CrashClone(blockdev.CrashConfig{})
		buf := blockdev.AlignedBuffer(len(img), 512)
		_, err = clone.ReadAt(buf, 0)
		require.NoError(t, err)
		require.Equal(t, p, buf[5000:5000+len(p)], "durable once the device healed")
		require.NoError(t, f.Close())
	}
}

// TestOverlapMergesNative: overlapping untorn writes become one unit, and a
// plain write inside a dirty unit goes out with it. (In native mode units
// are naturally aligned powers of two, which nest, so a union is never
// larger than its largest member: forced writeback is a COW-mode matter.)
func TestOverlapMergesNative(t *testing.T) {
	l := blockdev.Limits{BlockSize: 4096, AtomicMin: 4096, AtomicMax: 64 << 10, MemAlign: 512}
	f, _ := openMem(t, 1<<20, l, Options{MaxAtomic: 32 << 10, Mode: ModeNative, FlushInterval: -1})
	_, err := WriteAt(f, pattern(32<<10, 1), 0)
	require.NoError(t, err)
	_, err = WriteAt(f, pattern(32<<10, 2), 16<<10) // union [0, 48K): unit 64K
	require.NoError(t, err)
	_, err = WriteAt(f, pattern(100, 3), 40<<10) // inside
	require.NoError(t, err)
	s := f.Stats().Writeback
	require.EqualValues(t, 2, s.Merges)
	require.Zero(t, s.ForcedWritebacks)

	_, err = f.WriteAt(pattern(100, 4), 50<<10)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	s = f.Stats().Writeback
	require.EqualValues(t, 1, s.NativeAtomic, "one unit, written whole")
	require.Zero(t, s.PlainWrites, "the plain write went out inside the unit")

	want := make([]byte, 64<<10)
	copy(want, pattern(32<<10, 1))
	copy(want[16<<10:], pattern(32<<10, 2))
	copy(want[40<<10:], pattern(100, 3))
	copy(want[50<<10:], pattern(100, 4))
	got := make([]byte, len(want))
	_, err = f.ReadAt(got, 0)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got))
}

func TestNativeRefusesUnitsLargerThanTheDevice(t *testing.T) {
	l := blockdev.Limits{BlockSize: 4096, AtomicMin: 4096, AtomicMax: 64 << 10, MemAlign: 512}
	f, _ := openMem(t, 1<<20, l, Options{MaxAtomic: 32 << 10, Mode: ModeNative})
	// 16 KiB across a 64 KiB boundary needs a 128 KiB unit.
	_, err := WriteAt(f, pattern(16<<10, 1), 64<<10-8<<10)
	require.ErrorIs(t, err, ErrTooLarge)
	require.Zero(t, f.Stats().DirtyBytes)
}

func isExt4Dir(t *testing.T, dir string) bool {
	return blockdev.FileSystem(dir) == "ext4"
}

// TestOverlapForcesWritebackCOW: when the union of overlapping untorn
// writes would exceed what one group commit can hold, the older unit is
// written back first and the new write forms a unit of its own.
func TestOverlapForcesWritebackCOW(t *testing.T) {
	// 50% headroom keeps the logical size above two of this small
	// container's units.
	f, mem := openMem(t, 8<<20, blockdev.LimitsNone, Options{FlushInterval: -1, COWSparePercent: 50})
	require.Equal(t, ModeCOW, f.Mode())
	unit := f.eng.MaxUnit()
	f.opts.MaxAtomic = int(unit)
	n := int(unit/2) + 4096
	require.Less(t, int64(unit+8192), f.Size(), "the test needs room for two units")
	a, b := pattern(n, 1), pattern(n, 2)
	_, err := WriteAt(f, a, 0)
	require.NoError(t, err)
	_, err = WriteAt(f, b, unit/2) // overlaps a by 4 KiB; the union is larger than a unit
	require.NoError(t, err)
	s := f.Stats().Writeback
	require.EqualValues(t, 1, s.ForcedWritebacks)
	require.EqualValues(t, 1, s.Batches, "a went out alone, first")
	require.Zero(t, s.Merges)
	require.NoError(t, f.Sync())

	want := append(bytes.Clone(a[:unit/2]), b...)
	got := make([]byte, len(want))
	_, err = f.ReadAt(got, 0)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got))
	require.NoError(t, f.Close())

	g, err := OpenDevice(mem.CrashClone(blockdev.CrashConfig{}), Options{})
	require.NoError(t, err)
	defer g.Close()
	_, err = g.ReadAt(got, 0)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "durable after Sync and reopen")
}

// TestSmallCacheTakesTheLargestWrite: in COW mode the container's memory
// comes out of CacheSize, but never so much that a write of MaxAtomic
// bytes no longer fits.
func TestSmallCacheTakesTheLargestWrite(t *testing.T) {
	f, _ := openMem(t, 16<<20, blockdev.LimitsNone, Options{CacheSize: 1 << 20, MaxAtomic: 1 << 20})
	require.Equal(t, ModeCOW, f.Mode())
	p := pattern(1<<20, 5)
	_, err := WriteAt(f, p, 1<<20)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	got := make([]byte, len(p))
	_, err = f.ReadAt(got, 1<<20)
	require.NoError(t, err)
	require.True(t, bytes.Equal(p, got))
}
