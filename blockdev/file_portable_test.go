package blockdev_test

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/devicetest"
)

// openFileIn returns a constructor of fresh Files in dir, opened with
// opts (Size and Create set).
func openFileIn(dir string, opts blockdev.FileOptions) func(t *testing.T) blockdev.Device {
	var n atomic.Int64
	opts.Size, opts.Create = devicetest.MinSize, true
	return func(t *testing.T) blockdev.Device {
		path := filepath.Join(dir, "dev"+strings.Repeat("x", int(n.Add(1))))
		f, err := blockdev.OpenFile(path, opts)
		require.NoError(t, err)
		return f
	}
}

// openPortableIn returns a constructor of fresh portable Files in dir:
// the File macOS and Windows run, tested here on Linux.
func openPortableIn(dir string) func(t *testing.T) blockdev.Device {
	return openFileIn(dir, blockdev.FileOptions{Portable: true})
}

func TestFilePortableContract(t *testing.T) {
	devicetest.Run(t, openPortableIn(t.TempDir()))
}

// TestFilePortableKeepsThePromise: no untorn writes claimed (every Atomic
// write refused, nothing written), so the layers above journal them.
func TestFilePortableKeepsThePromise(t *testing.T) {
	f := openPortableIn(t.TempDir())(t).(*blockdev.File)
	defer f.Close()
	require.True(t, f.Portable())
	require.Equal(t, blockdev.LimitsPortable, f.Limits())
	require.False(t, f.Limits().HasAtomic())
	p := bytes.Repeat([]byte{7}, 4096)
	_, err := f.WriteAt(p, 0, blockdev.Atomic)
	require.ErrorIs(t, err, blockdev.ErrAtomicUnsupported)
	got := make([]byte, 4096)
	_, err = f.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, make([]byte, 4096), got, "a refused untorn write writes nothing")
	// Unaligned buffers are fine (MemAlign 1), FUA is a write and a flush.
	buf := make([]byte, 8193)[1:]
	copy(buf, bytes.Repeat([]byte{9}, len(buf)))
	_, err = f.WriteAt(buf, 4096, blockdev.FUA)
	require.NoError(t, err)
	_, err = f.ReadAt(got, 4096)
	require.NoError(t, err)
	require.Equal(t, buf[:4096], got)
}

// TestFilePortableSpace: Discard writes zeros, Resize and SetLength work,
// Allocate and CloneFrom say they are not supported.
func TestFilePortableSpace(t *testing.T) {
	open := openPortableIn(t.TempDir())
	f := open(t).(*blockdev.File)
	defer f.Close()
	p := bytes.Repeat([]byte{5}, 3*4096)
	_, err := f.WriteAt(p, 0, 0)
	require.NoError(t, err)
	require.NoError(t, f.Discard(4096, 4096))
	got := make([]byte, 3*4096)
	_, err = f.ReadAt(got, 0)
	require.NoError(t, err)
	want := append(append(bytes.Repeat([]byte{5}, 4096), make([]byte, 4096)...), bytes.Repeat([]byte{5}, 4096)...)
	require.Equal(t, want, got)

	require.NoError(t, f.Resize(8192))
	require.Equal(t, int64(8192), f.Size())
	require.NoError(t, f.SetLength(10000))
	n, err := f.Length()
	require.NoError(t, err)
	require.Equal(t, int64(10000), n)
	require.Equal(t, int64(8192), f.Size())

	require.ErrorIs(t, f.Allocate(0, 4096), blockdev.ErrNotSupported)
	g := open(t).(*blockdev.File)
	defer g.Close()
	require.ErrorIs(t, g.CloneFrom(f, 0, 0, 4096), blockdev.ErrNotSupported)
}

// TestFilePortableLocks: the same locks as the native File.
func TestFilePortableLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked")
	opts := blockdev.FileOptions{Size: 1 << 20, Create: true, Portable: true}
	f, err := blockdev.OpenFile(path, opts)
	require.NoError(t, err)
	_, err = blockdev.OpenFile(path, blockdev.FileOptions{Portable: true})
	require.ErrorIs(t, err, blockdev.ErrLocked)
	_, err = blockdev.OpenFile(path, blockdev.FileOptions{Portable: true, ReadOnly: true})
	require.ErrorIs(t, err, blockdev.ErrLocked)
	require.NoError(t, f.Close())
	g, err := blockdev.OpenFile(path, blockdev.FileOptions{Portable: true, ReadOnly: true})
	require.NoError(t, err)
	h, err := blockdev.OpenFile(path, blockdev.FileOptions{ReadOnly: true})
	require.NoError(t, err, "two readers, one portable, one native, share the lock")
	require.NoError(t, g.Close())
	require.NoError(t, h.Close())
}

// TestDir: the directory operations atomicio creates files with.
func TestDir(t *testing.T) {
	dir := t.TempDir()
	d, err := blockdev.OpenDir(dir)
	require.NoError(t, err)
	defer d.Close()
	f, err := d.CreateNew("a", 0o600, true)
	require.NoError(t, err)
	defer f.Close()
	_, err = d.CreateNew("a", 0, false)
	require.ErrorIs(t, err, fs.ErrExist)
	require.True(t, d.SameFile("a", f))
	g, err := d.CreateNew("b", 0, false)
	require.NoError(t, err)
	require.NoError(t, g.Close())
	require.ErrorIs(t, d.RenameNoReplace("a", "b"), fs.ErrExist)
	require.NoError(t, d.RenameNoReplace("a", "c"))
	require.True(t, d.SameFile("c", f))
	require.False(t, d.SameFile("b", f))
	require.NoError(t, d.Rename("c", "b"))
	require.True(t, d.SameFile("b", f))
	require.NoError(t, d.Link("b", "e"))
	require.ErrorIs(t, d.Link("b", "e"), fs.ErrExist)
	require.NoError(t, d.Remove("b"))
	require.ErrorIs(t, d.Remove("b"), fs.ErrNotExist)
	require.True(t, d.SameFile("e", f))
	require.NoError(t, d.Sync())
	st, err := f.Stat()
	require.NoError(t, err)
	require.Equal(t, "-rw-------", st.Mode().String())
}
