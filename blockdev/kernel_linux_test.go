package blockdev_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/xfstest"
)

// rawAtomicWrite asks the kernel directly, bypassing CheckAtomic.
func rawAtomicWrite(t *testing.T, path string, n int, off int64) error {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	buf := blockdev.AlignedBuffer(n, 4096)
	_, err = unix.Pwritev2(fd, [][]byte{buf}, off, unix.RWF_ATOMIC)
	return err
}

// TestKernelAgreesWithCheckAtomic checks that CheckAtomic, which every
// Device applies before the kernel sees a write, accepts exactly what real
// XFS accepts for RWF_ATOMIC.
func TestKernelAgreesWithCheckAtomic(t *testing.T) {
	mnt := xfstest.Mount(t)
	path := filepath.Join(mnt, "raw")
	f, err := blockdev.OpenFile(path, blockdev.FileOptions{Size: 8 << 20, Create: true})
	require.NoError(t, err)
	l := f.Limits()
	require.NoError(t, f.Close())
	cases := []struct {
		n   int
		off int64
	}{
		{4096, 0}, {4096, 4096}, {16 << 10, 16 << 10}, {16 << 10, 4096}, {12 << 10, 0},
		{l.AtomicMax, 0}, {l.AtomicMax, int64(l.AtomicMax)}, {2 * l.AtomicMax, 0}, {64 << 10, 32 << 10},
	}
	for _, c := range cases {
		ours := blockdev.CheckAtomic(l, c.off, c.n)
		kernel := rawAtomicWrite(t, path, c.n, c.off)
		require.Equal(t, ours == nil, kernel == nil, "%d bytes at %d: CheckAtomic says %v, the kernel %v", c.n, c.off, ours, kernel)
		if kernel != nil {
			require.True(t, errors.Is(kernel, unix.EINVAL), "kernel refusal %v", kernel)
		}
	}
}

// TestKernelRefusesAtomicOnTempDir confirms that the temp dir's file system
// answers RWF_ATOMIC with an error, as the File's Limits claim.
func TestKernelRefusesAtomicOnTempDir(t *testing.T) {
	dir := t.TempDir()
	if !isExt4(t, dir) {
		t.Skipf("temp dir %s is not ext4", dir)
	}
	path := filepath.Join(dir, "raw")
	f, err := blockdev.OpenFile(path, blockdev.FileOptions{Size: 1 << 20, Create: true})
	require.NoError(t, err)
	require.False(t, f.Limits().HasAtomic())
	require.NoError(t, f.Close())
	err = rawAtomicWrite(t, path, 4096, 0)
	require.True(t, errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL), "got %v", err)
}
