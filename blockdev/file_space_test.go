package blockdev_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/xfstest"
)

const mib = 1 << 20

func allocated(t *testing.T, d blockdev.Device) int64 {
	t.Helper()
	n, ok := blockdev.AllocatedBytes(d)
	require.True(t, ok)
	return n
}

func readRange(t *testing.T, d blockdev.Device, off, n int64) []byte {
	t.Helper()
	buf := blockdev.AlignedBuffer(int(n), d.Limits().MemAlign)
	_, err := d.ReadAt(buf, off)
	require.NoError(t, err)
	return buf
}

// fileSpace runs the Discard, Resize and Allocate checks on a file in dir.
func fileSpace(t *testing.T, dir string) {
	t.Run("Discard", func(t *testing.T) {
		f, err := blockdev.OpenFile(filepath.Join(dir, "discard"), blockdev.FileOptions{Size: 8 * mib, Create: true})
		require.NoError(t, err)
		defer f.Close()
		data := blockdev.AlignedBuffer(8*mib, f.Limits().MemAlign)
		for i := range data {
			data[i] = byte(i/4096) | 1
		}
		_, err = f.WriteAt(data, 0, 0)
		require.NoError(t, err)
		require.NoError(t, f.Flush())
		before := allocated(t, f)
		require.GreaterOrEqual(t, before, int64(8*mib))

		require.NoError(t, f.Discard(2*mib, 4*mib))
		require.NoError(t, f.Flush())
		after := allocated(t, f)
		t.Logf("allocated %d before, %d after discarding 4 MiB", before, after)
		require.InDelta(t, 4*mib, before-after, 256<<10, "the discard gave back about 4 MiB")
		got := readRange(t, f, 0, 8*mib)
		require.True(t, bytes.Equal(data[:2*mib], got[:2*mib]), "before the hole intact")
		require.True(t, bytes.Equal(make([]byte, 4*mib), got[2*mib:6*mib]), "the hole reads zeros")
		require.True(t, bytes.Equal(data[6*mib:], got[6*mib:]), "after the hole intact")
		require.EqualValues(t, 8*mib, f.Size())
	})

	t.Run("Resize", func(t *testing.T) {
		path := filepath.Join(dir, "resize")
		f, err := blockdev.OpenFile(path, blockdev.FileOptions{Size: 4 * mib, Create: true})
		require.NoError(t, err)
		defer f.Close()
		data := bytes.Repeat([]byte{0xa5}, 4*mib)
		buf := blockdev.AlignedBuffer(4*mib, f.Limits().MemAlign)
		copy(buf, data)
		_, err = f.WriteAt(buf, 0, 0)
		require.NoError(t, err)

		require.NoError(t, f.Resize(1*mib))
		require.EqualValues(t, 1*mib, f.Size())
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.EqualValues(t, 1*mib, fi.Size())
		_, err = f.ReadAt(buf[:4096], 1*mib)
		require.ErrorIs(t, err, blockdev.ErrOutOfRange)
		_, err = f.WriteAt(buf[:4096], 1*mib, 0)
		require.ErrorIs(t, err, blockdev.ErrOutOfRange)

		require.NoError(t, f.Resize(6*mib))
		require.NoError(t, f.Flush())
		require.EqualValues(t, 6*mib, f.Size())
		got := readRange(t, f, 0, 6*mib)
		require.True(t, bytes.Equal(data[:1*mib], got[:1*mib]), "the kept part intact")
		require.True(t, bytes.Equal(make([]byte, 5*mib), got[1*mib:]), "the grown part reads zeros, the cut data is gone")
		_, err = f.WriteAt(buf[:4096], 6*mib-4096, 0)
		require.NoError(t, err)
		_, err = f.ReadAt(buf[:4096], 6*mib)
		require.ErrorIs(t, err, blockdev.ErrOutOfRange)
	})

	t.Run("Allocate", func(t *testing.T) {
		f, err := blockdev.OpenFile(filepath.Join(dir, "allocate"), blockdev.FileOptions{Size: 8 * mib, Create: true})
		require.NoError(t, err)
		defer f.Close()
		before := allocated(t, f)
		require.NoError(t, f.Allocate(0, 4*mib))
		after := allocated(t, f)
		t.Logf("allocated %d before, %d after allocating 4 MiB", before, after)
		require.GreaterOrEqual(t, after-before, int64(4*mib))
		require.EqualValues(t, 8*mib, f.Size())
		fi, err := os.Stat(f.Path())
		require.NoError(t, err)
		require.EqualValues(t, 8*mib, fi.Size(), "KEEP_SIZE")
		require.True(t, bytes.Equal(make([]byte, 8*mib), readRange(t, f, 0, 8*mib)), "the content is unchanged")
	})
}

func TestFileSpaceTempDir(t *testing.T) { fileSpace(t, t.TempDir()) }

func TestFileSpaceXFS(t *testing.T) { fileSpace(t, xfstest.Mount(t)) }

// TestFileSpaceBlockDevice checks a File over a loop device: Discard zeros
// (by fallocate or its fallbacks), Resize is refused, Allocate only checks.
func TestFileSpaceBlockDevice(t *testing.T) {
	dev := xfstest.LoopDevice(t, 16*mib)
	f, err := blockdev.OpenFile(dev, blockdev.FileOptions{})
	require.NoError(t, err)
	defer f.Close()
	require.EqualValues(t, 16*mib, f.Size())
	data := blockdev.AlignedBuffer(4*mib, f.Limits().MemAlign)
	for i := range data {
		data[i] = 0x5a
	}
	_, err = f.WriteAt(data, 0, 0)
	require.NoError(t, err)
	require.NoError(t, f.Discard(1*mib, 2*mib))
	got := readRange(t, f, 0, 4*mib)
	require.True(t, bytes.Equal(data[:1*mib], got[:1*mib]))
	require.True(t, bytes.Equal(make([]byte, 2*mib), got[1*mib:3*mib]))
	require.True(t, bytes.Equal(data[3*mib:], got[3*mib:]))

	require.ErrorIs(t, f.Resize(32*mib), blockdev.ErrNotSupported)
	require.EqualValues(t, 16*mib, f.Size())
	require.NoError(t, f.Allocate(0, 4*mib))
	require.ErrorIs(t, f.Allocate(0, 32*mib), blockdev.ErrOutOfRange)
	_, ok := blockdev.AllocatedBytes(f)
	require.False(t, ok, "st_blocks means nothing on a block device")
}

// TestFileResizeRacesIO resizes while writers and readers run: every access
// is checked against a size the file really had, so no write extends the
// file past a shrink, and every failure is ErrOutOfRange.
func TestFileResizeRacesIO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "race")
	f, err := blockdev.OpenFile(path, blockdev.FileOptions{Size: 2 * mib, Create: true})
	require.NoError(t, err)
	defer f.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			buf := blockdev.AlignedBuffer(4096, f.Limits().MemAlign)
			for {
				select {
				case <-stop:
					return
				default:
				}
				off := rng.Int64N(2*mib/4096) * 4096
				var err error
				switch rng.IntN(3) {
				case 0:
					_, err = f.WriteAt(buf, off, 0)
				case 1:
					_, err = f.ReadAt(buf, off)
				default:
					err = f.Discard(off, 4096)
				}
				if err != nil && !errors.Is(err, blockdev.ErrOutOfRange) {
					t.Errorf("op at %d: %v", off, err)
					return
				}
			}
		})
	}
	for i := range 200 {
		require.NoError(t, f.Resize(int64(1+i%2)*mib))
	}
	close(stop)
	wg.Wait()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.EqualValues(t, 2*mib, f.Size())
	require.Equal(t, f.Size(), fi.Size())
	require.NoError(t, f.Resize(1*mib))
	fi, err = os.Stat(path)
	require.NoError(t, err)
	require.EqualValues(t, 1*mib, fi.Size(), "no write slipped past a shrink")
}
