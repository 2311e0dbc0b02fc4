package cow

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/xfstest"
)

// fileSizes returns the apparent size (ls -l) and the disk use (du) of
// the file at path.
func fileSizes(t *testing.T, path string) (int64, int64) {
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	return st.Size, st.Blocks * 512
}

// TestFileFollowsUseOnDisk formats a container on a new, empty file on
// ext4 (the temporary directory) and XFS, and follows ls -l and du: after
// Format the file holds the superblocks and the roots' checkpoints; it
// grows with the log segment by segment (each filled once the log takes
// it, so its flushes commit no metadata); it reopens; cut to nothing, it
// comes back down to the segments in use. Extended to the layout's size
// (truncate -s, the way back to a release that needs the whole layout),
// it opens as a container of fixed size, which keeps that size. A device
// that cannot grow (what such a release sees) refuses the short file with
// ErrCorrupt.
func TestFileFollowsUseOnDisk(t *testing.T) {
	for name, dir := range map[string]func(testing.TB) string{
		"tmp": func(t testing.TB) string { return t.TempDir() },
		"xfs": func(t testing.TB) string { return xfstest.Mount(t) },
	} {
		t.Run(name, func(t *testing.T) {
			checkFileFollowsUse(t, filepath.Join(dir(t), "c"))
		})
	}
}

func checkFileFollowsUse(t *testing.T, path string) {
	opts := Options{LogicalSize: 1 << 30, SegmentSize: 1 << 20, MaxBatch: 1 << 20, AtomicMax: 256 << 10}
	f, err := blockdev.OpenFile(path, blockdev.FileOptions{Create: true})
	require.NoError(t, err)
	d, err := Format(f, opts)
	require.NoError(t, err)
	g := d.g
	bs := g.bs
	size, disk := fileSizes(t, path)
	t.Logf("new: ls -l %d, du %d (layout %d, data area from %d)", size, disk, g.innerBlocks()*bs, g.dataStart()*bs)
	require.Equal(t, (g.ckptSlot(1)+1)*bs, size, "superblocks and the roots' checkpoints")

	const data, page = 8 << 20, 16 << 10
	rng := rand.New(rand.NewPCG(7, 7))
	buf := blockdev.AlignedBuffer(page, 4096)
	for i, p := range rng.Perm(data / page) {
		buf[0] = byte(i)
		require.NoError(t, d.CommitBatch([]blockdev.Piece{{Off: int64(p) * page, Data: buf}}, 0))
		require.NoError(t, d.Flush()) // small flushes: every segment is filled
	}
	st := d.Stats()
	size, disk = fileSizes(t, path)
	t.Logf("8 MiB of 16 KiB pages: ls -l %d (%d segments), du %d, %d resizes, %d fills", size, st.Segments, disk, st.Resizes, st.Fills)
	require.Equal(t, st.InnerBytes, size)
	require.Equal(t, g.segStart(int64(st.Segments))*bs, size, "the file ends with the highest segment")
	require.Less(t, disk, int64(data)+int64(data)/2+(2<<20), "the disk holds the data, not the apparent size")
	require.Zero(t, holesIn(t, path, g.dataStart()*bs, size-g.dataStart()*bs), "segments in use hold no holes")
	require.NoError(t, d.Close())

	f, err = blockdev.OpenFile(path, blockdev.FileOptions{})
	require.NoError(t, err)
	_, err = Open(plainDevice{f}, Options{})
	require.ErrorIs(t, err, ErrCorrupt, "a device that cannot grow must hold the whole layout")
	d, err = Open(f, Options{})
	require.NoError(t, err)
	require.True(t, d.grows)
	got := blockdev.AlignedBuffer(page, 4096)
	_, err = d.ReadAt(got, 0)
	require.NoError(t, err)

	// Cut to nothing, then write at the bottom until the log head is
	// there too.
	require.NoError(t, d.CommitSized(nil, 0, 0, 0))
	for i := 0; d.Stats().Segments > 2 && i < 64; i++ {
		require.NoError(t, d.CommitBatch([]blockdev.Piece{{Off: 0, Data: buf}}, blockdev.FUA))
		d.mu.Lock()
		require.NoError(t, d.checkpointLocked(false))
		d.mu.Unlock()
	}
	d.mu.Lock()
	require.NoError(t, d.checkpointLocked(false))
	d.mu.Unlock()
	cut, cutDisk := fileSizes(t, path)
	t.Logf("cut to nothing: ls -l %d, du %d", cut, cutDisk)
	require.LessOrEqual(t, cut, g.segStart(2)*bs)
	require.Less(t, cutDisk, int64(4<<20))
	_, err = d.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, buf, got)
	require.NoError(t, d.Close())

	// The way back: the whole layout, sparse.
	require.NoError(t, os.Truncate(path, g.innerBlocks()*bs))
	f, err = blockdev.OpenFile(path, blockdev.FileOptions{})
	require.NoError(t, err)
	d, err = Open(plainDevice{f}, Options{})
	require.NoError(t, err, "a release that needs the whole layout opens it")
	require.False(t, d.grows)
	_, err = d.ReadAt(got, 0)
	require.NoError(t, err)
	require.True(t, bytes.Equal(buf, got))
	require.NoError(t, d.CommitBatch([]blockdev.Piece{{Off: page, Data: buf}}, blockdev.FUA))
	require.NoError(t, d.Close())
	f, err = blockdev.OpenFile(path, blockdev.FileOptions{})
	require.NoError(t, err)
	d, err = Open(f, Options{})
	require.NoError(t, err)
	require.False(t, d.grows, "a file as long as its layout keeps its size")
	require.NoError(t, d.Close())
	size, _ = fileSizes(t, path)
	require.Equal(t, g.innerBlocks()*bs, size)
	require.Zero(t, d.Stats().Resizes)
}
