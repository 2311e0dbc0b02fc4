package blockdev_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/devicetest"
	"github.com/untorn/untorn/internal/xfstest"
)

func isExt4(t *testing.T, dir string) bool {
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	return st.Type == unix.EXT4_SUPER_MAGIC
}

func TestFileContractTempDir(t *testing.T) {
	devicetest.Run(t, openFileIn(t.TempDir(), blockdev.FileOptions{}))
}

func TestFileTempDirHasNoAtomic(t *testing.T) {
	dir := t.TempDir()
	if !isExt4(t, dir) {
		t.Skipf("temp dir %s is not ext4; this check is about ext4", dir)
	}
	f, err := blockdev.OpenFile(filepath.Join(dir, "f"), blockdev.FileOptions{Size: 1 << 20, Create: true})
	require.NoError(t, err)
	defer f.Close()
	l := f.Limits()
	require.Zero(t, l.AtomicMax, "ext4 on this machine offers no untorn writes")
	buf := blockdev.AlignedBuffer(4096, l.MemAlign)
	_, err = f.WriteAt(buf, 0, blockdev.Atomic)
	require.ErrorIs(t, err, blockdev.ErrAtomicUnsupported)
}

func TestFileXFS(t *testing.T) {
	mnt := xfstest.Mount(t)

	t.Run("Contract", func(t *testing.T) {
		devicetest.Run(t, openFileIn(mnt, blockdev.FileOptions{}))
	})

	t.Run("Limits", func(t *testing.T) {
		f, err := blockdev.OpenFile(filepath.Join(mnt, "limits"), blockdev.FileOptions{Size: 4 << 20, Create: true})
		require.NoError(t, err)
		defer f.Close()
		l := f.Limits()
		t.Logf("XFS limits: %+v", l)
		require.Equal(t, 4096, l.AtomicMin)
		require.GreaterOrEqual(t, l.AtomicMax, 64<<10)
		info, err := blockdev.Stat(filepath.Join(mnt, "limits"))
		require.NoError(t, err)
		if info.AtomicUnitMaxOpt == 0 { // a loop device: software atomics only
			require.Zero(t, l.AtomicHardwareMax)
		} else {
			require.LessOrEqual(t, l.AtomicHardwareMax, int(info.AtomicUnitMaxOpt))
		}
	})

	t.Run("AtomicWrites4KiBTo1MiB", func(t *testing.T) {
		f, err := blockdev.OpenFile(filepath.Join(mnt, "atomic"), blockdev.FileOptions{Size: 4 << 20, Create: true})
		require.NoError(t, err)
		defer f.Close()
		l := f.Limits()
		for n := 4096; n <= 1<<20; n *= 2 {
			buf := blockdev.AlignedBuffer(n, l.MemAlign)
			for i := range buf {
				buf[i] = byte(n>>12) + byte(i)
			}
			off := int64(n) * 2
			w, err := f.WriteAt(buf, off, blockdev.Atomic)
			require.NoError(t, err, "atomic write of %d bytes at %d", n, off)
			require.Equal(t, n, w)
			got := blockdev.AlignedBuffer(n, l.MemAlign)
			_, err = f.ReadAt(got, off)
			require.NoError(t, err)
			require.Equal(t, buf, got)
		}
		// With FUA (RWF_ATOMIC|RWF_DSYNC) too.
		buf := blockdev.AlignedBuffer(16<<10, l.MemAlign)
		_, err = f.WriteAt(buf, 0, blockdev.Atomic|blockdev.FUA)
		require.NoError(t, err)
	})

	t.Run("MisalignedAtomicRefused", func(t *testing.T) {
		f, err := blockdev.OpenFile(filepath.Join(mnt, "misaligned"), blockdev.FileOptions{Size: 1 << 20, Create: true})
		require.NoError(t, err)
		defer f.Close()
		buf := blockdev.AlignedBuffer(16<<10, f.Limits().MemAlign)
		_, err = f.WriteAt(buf, 4096, blockdev.Atomic)
		require.ErrorIs(t, err, blockdev.ErrAtomicInvalid)
	})
}

func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	_, err := blockdev.OpenFile(missing, blockdev.FileOptions{})
	require.ErrorIs(t, err, unix.ENOENT)
	require.ErrorIs(t, err, os.ErrNotExist)
	var oe *blockdev.OpError
	require.True(t, errors.As(err, &oe))
	require.Equal(t, "open", oe.Op)
	require.Contains(t, err.Error(), missing)

	_, err = blockdev.OpenFile(dir, blockdev.FileOptions{})
	require.Error(t, err, "a directory is not a device")

	_, err = blockdev.OpenFile(filepath.Join(dir, "neg"), blockdev.FileOptions{Size: -1, Create: true})
	require.ErrorIs(t, err, blockdev.ErrOutOfRange)
}

func TestOpenFileExtendsAndKeepsSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := blockdev.OpenFile(path, blockdev.FileOptions{Size: 1 << 20, Create: true})
	require.NoError(t, err)
	require.EqualValues(t, 1<<20, f.Size())
	require.NoError(t, f.Close())
	f, err = blockdev.OpenFile(path, blockdev.FileOptions{Size: 2 << 20})
	require.NoError(t, err)
	require.EqualValues(t, 2<<20, f.Size())
	require.NoError(t, f.Close())
	f, err = blockdev.OpenFile(path, blockdev.FileOptions{Size: 1 << 20, ReadOnly: true})
	require.NoError(t, err)
	require.EqualValues(t, 2<<20, f.Size(), "a larger file is never shrunk")
	_, err = f.WriteAt(blockdev.AlignedBuffer(4096, f.Limits().MemAlign), 0, 0)
	require.ErrorIs(t, err, unix.EBADF)
	var oe *blockdev.OpError
	require.True(t, errors.As(err, &oe))
	require.Equal(t, path, oe.Path)
	require.EqualValues(t, 0, oe.Off)
	require.NoError(t, f.Close())
}

func TestStat(t *testing.T) {
	info, err := blockdev.Stat(t.TempDir())
	require.Equal(t, uint32(unix.S_IFDIR), info.Mode&unix.S_IFMT)
	require.NoError(t, err)
	_, err = blockdev.Stat(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, unix.ENOENT)
}

func TestOpenFileLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := blockdev.OpenFile(path, blockdev.FileOptions{Size: 1 << 20, Create: true})
	require.NoError(t, err)
	_, err = blockdev.OpenFile(path, blockdev.FileOptions{})
	require.ErrorIs(t, err, blockdev.ErrLocked, "a second writer is refused")
	_, err = blockdev.OpenFile(path, blockdev.FileOptions{ReadOnly: true})
	require.ErrorIs(t, err, blockdev.ErrLocked, "and so is a reader while a writer has it")
	require.NoError(t, f.Close())
	g, err := blockdev.OpenFile(path, blockdev.FileOptions{ReadOnly: true})
	require.NoError(t, err, "the lock goes with Close")
	h, err := blockdev.OpenFile(path, blockdev.FileOptions{ReadOnly: true})
	require.NoError(t, err, "readers share")
	require.NoError(t, g.Close())
	require.NoError(t, h.Close())
}
