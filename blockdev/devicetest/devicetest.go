package devicetest

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// MinSize is the smallest device Run needs: 16 blocks, and room for an
// atomic write of twice AtomicMax where the device has one of 2 MiB.
const MinSize = 8 << 20

// Run runs the contract suite. open must return a new, zeroed or not,
// device of at least MinSize bytes (or 16 blocks, whichever is larger);
// Run closes it.
func Run(t *testing.T, open func(t *testing.T) blockdev.Device) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d blockdev.Device)
	}{
		{"Limits", testLimits},
		{"ReadYourWrites", testReadYourWrites},
		{"Misaligned", testMisaligned},
		{"OutOfRange", testOutOfRange},
		{"AtomicRules", testAtomicRules},
		{"AtomicAccepted", testAtomicAccepted},
		{"FUAAndFlush", testFUAAndFlush},
		{"ConcurrentDisjointWriters", testConcurrentWriters},
		{"UseAfterClose", testUseAfterClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := open(t)
			t.Cleanup(func() { _ = d.Close() })
			tc.fn(t, d)
		})
	}
}

// pattern returns an aligned buffer of n bytes of random data.
func pattern(d blockdev.Device, n int, seed uint64) []byte {
	buf := blockdev.AlignedBuffer(n, d.Limits().MemAlign)
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	return buf
}

func read(t *testing.T, d blockdev.Device, off int64, n int) []byte {
	t.Helper()
	buf := blockdev.AlignedBuffer(n, d.Limits().MemAlign)
	got, err := d.ReadAt(buf, off)
	require.NoError(t, err)
	require.Equal(t, n, got)
	return buf
}

func write(t *testing.T, d blockdev.Device, p []byte, off int64, flags blockdev.Flags) {
	t.Helper()
	n, err := d.WriteAt(p, off, flags)
	require.NoError(t, err, "write [%d, +%d) %v", off, len(p), flags)
	require.Equal(t, len(p), n)
}

// refused checks that a write fails with want and changes nothing.
func refused(t *testing.T, d blockdev.Device, p []byte, off int64, flags blockdev.Flags, want error) {
	t.Helper()
	checkOff := max(off-off%int64(d.Limits().BlockSize), 0)
	checkLen := min(int64(len(p))+2*int64(d.Limits().BlockSize), d.Size()-checkOff)
	checkLen -= checkLen % int64(d.Limits().BlockSize)
	before := read(t, d, checkOff, int(checkLen))
	n, err := d.WriteAt(p, off, flags)
	require.ErrorIs(t, err, want, "write [%d, +%d) %v", off, len(p), flags)
	require.Zero(t, n)
	require.True(t, bytes.Equal(before, read(t, d, checkOff, int(checkLen))), "a refused write changed the device")
}

func testLimits(t *testing.T, d blockdev.Device) {
	l := d.Limits()
	require.True(t, l.BlockSize == 512 || l.BlockSize == 4096 || l.BlockSize > 0 && l.BlockSize&(l.BlockSize-1) == 0,
		"block size %d", l.BlockSize)
	require.Zero(t, d.Size()%int64(l.BlockSize), "size %d is not a multiple of the block size", d.Size())
	require.GreaterOrEqual(t, d.Size(), int64(16*l.BlockSize))
	if l.HasAtomic() {
		require.GreaterOrEqual(t, l.AtomicMin, l.BlockSize)
		require.GreaterOrEqual(t, l.AtomicMax, l.AtomicMin)
		require.NoError(t, blockdev.CheckAtomic(l, 0, l.AtomicMin))
	} else {
		require.Zero(t, l.AtomicMin)
	}
}

func testReadYourWrites(t *testing.T, d blockdev.Device) {
	bs := d.Limits().BlockSize
	a := pattern(d, 4*bs, 1)
	write(t, d, a, int64(2*bs), 0)
	require.Equal(t, a, read(t, d, int64(2*bs), 4*bs))
	// Overwrite the middle: the rest must keep the first write's data.
	b := pattern(d, bs, 2)
	write(t, d, b, int64(3*bs), 0)
	got := read(t, d, int64(2*bs), 4*bs)
	require.Equal(t, a[:bs], got[:bs])
	require.Equal(t, b, got[bs:2*bs])
	require.Equal(t, a[2*bs:], got[2*bs:])
	// The last block of the device.
	c := pattern(d, bs, 3)
	write(t, d, c, d.Size()-int64(bs), 0)
	require.Equal(t, c, read(t, d, d.Size()-int64(bs), bs))
}

func testMisaligned(t *testing.T, d blockdev.Device) {
	l := d.Limits()
	bs := l.BlockSize
	p := pattern(d, 2*bs, 4)
	if bs > 1 {
		refused(t, d, p, int64(bs/2), 0, blockdev.ErrMisaligned)
		refused(t, d, p[:bs+bs/2], int64(bs), 0, blockdev.ErrMisaligned)
		_, err := d.ReadAt(blockdev.AlignedBuffer(bs, l.MemAlign), 1)
		require.ErrorIs(t, err, blockdev.ErrMisaligned)
	}
	if l.MemAlign > 1 {
		raw := blockdev.AlignedBuffer(2*bs+l.MemAlign, l.MemAlign)
		odd := raw[1 : 1+bs]
		refused(t, d, odd, 0, 0, blockdev.ErrMisaligned)
		_, err := d.ReadAt(odd, 0)
		require.ErrorIs(t, err, blockdev.ErrMisaligned)
	}
}

func testOutOfRange(t *testing.T, d blockdev.Device) {
	bs := d.Limits().BlockSize
	p := pattern(d, 2*bs, 5)
	_, err := d.WriteAt(p, -int64(bs), 0)
	require.ErrorIs(t, err, blockdev.ErrOutOfRange)
	refused(t, d, p, d.Size()-int64(bs), 0, blockdev.ErrOutOfRange)
	_, err = d.WriteAt(p[:bs], d.Size(), 0)
	require.ErrorIs(t, err, blockdev.ErrOutOfRange)
	_, err = d.ReadAt(p, d.Size()-int64(bs))
	require.ErrorIs(t, err, blockdev.ErrOutOfRange)
	_, err = d.ReadAt(p[:bs], -int64(bs))
	require.ErrorIs(t, err, blockdev.ErrOutOfRange)
}

func testAtomicRules(t *testing.T, d blockdev.Device) {
	l := d.Limits()
	bs := l.BlockSize
	if !l.HasAtomic() {
		refused(t, d, pattern(d, bs, 6), 0, blockdev.Atomic, blockdev.ErrAtomicUnsupported)
		refused(t, d, pattern(d, 4*bs, 6), 0, blockdev.Atomic|blockdev.FUA, blockdev.ErrAtomicUnsupported)
		return
	}
	minU := l.AtomicMin
	// A valid unit length L, then L plus and minus one block: never a power
	// of two within the limits (except where L-bs happens to be one).
	unit := min(4*minU, l.AtomicMax)
	for _, n := range []int{unit + bs, unit - bs} {
		if n > 0 && n&(n-1) == 0 && n >= minU && n <= l.AtomicMax {
			continue
		}
		if int64(n) <= d.Size() && n > 0 {
			refused(t, d, pattern(d, n, 7), 0, blockdev.Atomic, blockdev.ErrAtomicInvalid)
		}
	}
	// Below the minimum although a power of two and block aligned.
	if minU > bs {
		refused(t, d, pattern(d, minU/2, 9), 0, blockdev.Atomic, blockdev.ErrAtomicInvalid)
	}
	// Misaligned offset: a unit written at an offset that is not a multiple
	// of its length.
	if 2*minU <= l.AtomicMax {
		refused(t, d, pattern(d, 2*minU, 10), int64(minU), blockdev.Atomic, blockdev.ErrAtomicInvalid)
	}
	if bs < minU {
		refused(t, d, pattern(d, minU, 11), int64(bs), blockdev.Atomic, blockdev.ErrAtomicInvalid)
	}
	// Above the maximum.
	if above := 2 * l.AtomicMax; int64(above) <= d.Size() {
		refused(t, d, pattern(d, above, 12), 0, blockdev.Atomic, blockdev.ErrAtomicInvalid)
	}
}

func testAtomicAccepted(t *testing.T, d blockdev.Device) {
	l := d.Limits()
	if !l.HasAtomic() {
		t.Skip("device has no untorn writes")
	}
	for n := l.AtomicMin; n <= l.AtomicMax && int64(2*n) <= d.Size(); n *= 2 {
		p := pattern(d, n, uint64(n))
		write(t, d, p, int64(n), blockdev.Atomic)
		require.Equal(t, p, read(t, d, int64(n), n), "atomic write of %d bytes", n)
	}
}

func testFUAAndFlush(t *testing.T, d blockdev.Device) {
	bs := d.Limits().BlockSize
	p := pattern(d, 2*bs, 13)
	write(t, d, p, 0, blockdev.FUA)
	require.Equal(t, p, read(t, d, 0, 2*bs))
	if l := d.Limits(); l.HasAtomic() {
		q := pattern(d, l.AtomicMin, 14)
		write(t, d, q, 0, blockdev.Atomic|blockdev.FUA)
		require.Equal(t, q, read(t, d, 0, l.AtomicMin))
	}
	require.NoError(t, d.Flush())
}

func testConcurrentWriters(t *testing.T, d blockdev.Device) {
	const writers, rounds = 8, 20
	bs := d.Limits().BlockSize
	region := 2 * bs
	last := make([][]byte, writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(w * region)
			for r := range rounds {
				p := pattern(d, region, uint64(w*1000+r))
				if _, err := d.WriteAt(p, off, 0); err != nil {
					errs <- err
					return
				}
				last[w] = p
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for w := range writers {
		require.Equal(t, last[w], read(t, d, int64(w*region), region), "writer %d", w)
	}
	require.NoError(t, d.Flush())
}

func testUseAfterClose(t *testing.T, d blockdev.Device) {
	bs := d.Limits().BlockSize
	p := pattern(d, bs, 15)
	require.NoError(t, d.Close())
	_, err := d.ReadAt(p, 0)
	require.ErrorIs(t, err, blockdev.ErrClosed)
	_, err = d.WriteAt(p, 0, 0)
	require.ErrorIs(t, err, blockdev.ErrClosed)
	require.ErrorIs(t, d.Flush(), blockdev.ErrClosed)
	require.ErrorIs(t, d.Close(), blockdev.ErrClosed)
	require.Equal(t, bs, d.Limits().BlockSize, "Limits must answer after Close")
}
