package atomicio

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/untorn/untorn/internal/xfstest"
)

// TestRealENOSPCThenSpace runs a COW container on a real, nearly full file
// system (a loop-mounted XFS): its writes into the sparse container fail
// with ENOSPC from the kernel, Sync reports it and keeps the data; once
// space is freed the next Sync succeeds, and a reopen reads everything
// back. This is the transient class on the real file backend, not the
// simulated device.
func TestRealENOSPCThenSpace(t *testing.T) {
	mnt := xfstest.Mount(t)
	const size = 24 << 20
	path := filepath.Join(mnt, "data.db")
	f, err := Open(path, Options{Size: size, FlushInterval: -1, CacheSize: 64 << 20, Mode: ModeCOW})
	require.NoError(t, err)
	defer func() { _ = f.Abandon() }()
	require.Equal(t, ModeCOW, f.Mode())

	// Leave about 8 MiB free: the container is sparse, so writing 24 MiB
	// of pages into it must run out of space.
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(mnt, &st))
	free := int64(st.Bavail) * st.Bsize
	filler := filepath.Join(mnt, "filler")
	fd, err := unix.Open(filler, unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o644)
	require.NoError(t, err)
	require.NoError(t, unix.Fallocate(fd, 0, 0, free-(8<<20)))
	require.NoError(t, unix.Close(fd))

	want := make([]byte, f.Size())
	const page = 16 << 10
	var syncErr error
	for i := range int64(len(want) / page) {
		p := bytes.Repeat([]byte{byte(i%251 + 1)}, page)
		_, err := WriteAt(f, p, i*page)
		require.NoError(t, err)
		copy(want[i*page:], p)
		if i%64 == 63 {
			if err := f.Sync(); err != nil {
				syncErr = err
				break
			}
		}
	}
	if syncErr == nil {
		syncErr = f.Sync()
	}
	require.ErrorIs(t, syncErr, syscall.ENOSPC, "the nearly full file system must refuse the container's writes")
	require.ErrorIs(t, f.Sync(), syscall.ENOSPC, "and keep refusing while it is full")
	require.Positive(t, f.Stats().DirtyBytes, "the dirty data is kept")

	require.NoError(t, os.Remove(filler)) // space again
	require.NoError(t, f.Sync(), "the first Sync after space was freed succeeds")
	got := make([]byte, len(want))
	_, err = f.ReadAt(got, 0)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got))
	require.NoError(t, f.Close())

	f, err = Open(path, Options{})
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	clear(got)
	_, err = f.ReadAt(got[:len(want)], 0)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got[:len(want)]), "everything is there after a reopen")
}
