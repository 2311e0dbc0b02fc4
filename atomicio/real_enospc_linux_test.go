package atomicio

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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
	filler := fillFileSystem(t, mnt, 8<<20)

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

// TestRealJournalDataFileSystemFull runs journal mode on a nearly full
// real file system (a loop-mounted XFS): the journal was written whole at
// creation, so Syncs keep working while the journal has room, although
// every checkpoint fails with ENOSPC (the data file cannot get its
// blocks), which Stats reports; once the journal is full a Sync reports
// ENOSPC and keeps the data; with space again the next Sync succeeds,
// Close writes everything home and removes the journal, and the file is
// an ordinary file holding it all.
func TestRealJournalDataFileSystemFull(t *testing.T) {
	mnt := xfstest.Mount(t)
	const size, journalSize = 24 << 20, 4 << 20
	path := filepath.Join(mnt, "data.db")
	f, err := Open(path, Options{Size: size, FlushInterval: 5 * time.Millisecond, CacheSize: 64 << 20, JournalSize: journalSize})
	require.NoError(t, err)
	defer func() { _ = f.Abandon() }()
	require.Equal(t, ModeJournal, f.Mode())

	// Leave about 1 MiB free: the data file is sparse, so checkpoints
	// writing its pages home run out of space at once.
	filler := fillFileSystem(t, mnt, 1<<20)

	want := make([]byte, size)
	const page = 16 << 10
	synced := 0 // bytes written by Syncs that succeeded
	var syncErr error
	for i := range int64(size / page) {
		p := bytes.Repeat([]byte{byte(i%251 + 1)}, page)
		_, err := WriteAt(f, p, i*page)
		require.NoError(t, err)
		copy(want[i*page:], p)
		if i%16 == 15 {
			if syncErr = f.Sync(); syncErr != nil {
				break
			}
			synced += 16 * page
		}
	}
	require.ErrorIs(t, syncErr, syscall.ENOSPC, "once the journal is full, a Sync reports the full data file system")
	t.Logf("Syncs that succeeded with the data file system full: %d KiB in a %d KiB journal", synced>>10, journalSize>>10)
	require.GreaterOrEqual(t, synced, journalSize/4, "Syncs kept working while the journal had room")
	require.Contains(t, syncErr.Error(), "checkpoint", "the Sync reports the checkpoint that could not make room")
	if err := f.Stats().Journal.CheckpointErr; err != nil { // a later checkpoint may have found its blocks allocated
		require.ErrorIs(t, err, syscall.ENOSPC, "the failed checkpoints are reported")
	}
	require.Positive(t, f.Stats().DirtyBytes, "the dirty data is kept")

	require.NoError(t, os.Remove(filler)) // space again
	require.NoError(t, f.Sync(), "the first Sync after space was freed succeeds")
	require.NoError(t, f.Close())
	_, err = os.Stat(JournalPath(path))
	require.ErrorIs(t, err, os.ErrNotExist, "Close removed the journal")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, len(want), len(got))
	require.True(t, bytes.Equal(want[:len(got)], got), "the file holds everything written")
}

// fillFileSystem allocates a file in mnt that leaves about keep bytes of
// the file system free, and returns its path (remove it for space again).
func fillFileSystem(t *testing.T, mnt string, keep int64) string {
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(mnt, &st))
	free := int64(st.Bavail) * st.Bsize
	filler := filepath.Join(mnt, "filler")
	fd, err := unix.Open(filler, unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o644)
	require.NoError(t, err)
	require.NoError(t, unix.Fallocate(fd, 0, 0, free-keep))
	require.NoError(t, unix.Close(fd))
	return filler
}
