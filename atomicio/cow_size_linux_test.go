package atomicio

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/untorn/untorn/blockdev/cow"
)

// sizes returns the apparent size (ls -l) and the disk use (du) of path.
func sizes(t *testing.T, path string) (int64, int64) {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	return st.Size, st.Blocks * 512
}

// TestCOWFileFollowsUse: a new COW file is no larger than its roots need
// (ls -l ends at the second root's checkpoint, before the data area; du
// is a few blocks), grows to the data area and a segment with its first
// write, keeps that across a reopen; with Preallocate the first Size
// bytes of segments are allocated past its end (du), and the file grows
// into them.
func TestCOWFileFollowsUse(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Mode: ModeCOW}
	fixed, err := cow.DataOffset(4096, cowOptions(opts, DefaultMaxSize))
	require.NoError(t, err)
	path := filepath.Join(dir, "data")
	f, err := Open(path, opts)
	require.NoError(t, err)
	size, disk := sizes(t, path)
	t.Logf("new: ls -l %d, du %d (data area from %d)", size, disk, fixed)
	require.Less(t, size, fixed, "no segment yet")
	require.Less(t, disk, int64(1<<20))
	_, err = f.WriteAt(make([]byte, 1<<20), 0)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	seg := f.Stats().COW.SegmentBytes
	size, disk = sizes(t, path)
	t.Logf("1 MiB written: ls -l %d, du %d", size, disk)
	require.Equal(t, fixed+seg, size, "the data area's start and one segment")
	require.Equal(t, size, f.Stats().COW.InnerBytes)
	require.NoError(t, f.Close())
	f, err = Open(path, Options{})
	require.NoError(t, err)
	require.NoError(t, f.Close())
	again, _ := sizes(t, path)
	require.Equal(t, size, again)

	pre := filepath.Join(dir, "pre")
	const initial = 16 << 20
	f, err = Open(pre, Options{Mode: ModeCOW, Size: initial, Preallocate: true})
	require.NoError(t, err)
	defer f.Close()
	size, disk = sizes(t, pre)
	t.Logf("Preallocate of %d: ls -l %d, du %d", initial, size, disk)
	require.LessOrEqual(t, size, fixed+seg, "the file holds one segment (the initial size's record)")
	require.GreaterOrEqual(t, disk, int64(initial), "the segments the log takes first are allocated")
	_, err = f.WriteAt(make([]byte, initial-seg), 0)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	size, after := sizes(t, pre)
	t.Logf("%d written: ls -l %d, du %d", initial-seg, size, after)
	require.Greater(t, size, fixed+seg, "the file grew into the allocation")
	require.Less(t, after, disk+seg, "into space allocated before")
}
