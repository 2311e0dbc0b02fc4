package cow

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/untorn/untorn/blockdev"
)

// holesIn returns the bytes of [off, off+n) of the file at path that are
// holes (SEEK_HOLE/SEEK_DATA).
func holesIn(t *testing.T, path string, off, n int64) int64 {
	fd, err := unix.Open(path, unix.O_RDONLY, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	var holes int64
	for pos, end := off, off+n; pos < end; {
		hole, err := unix.Seek(fd, pos, unix.SEEK_HOLE)
		require.NoError(t, err)
		if hole >= end {
			break
		}
		data, err := unix.Seek(fd, hole, unix.SEEK_DATA)
		if err != nil || data > end { // ENXIO: a hole to the end of the file
			data = end
		}
		holes += data - hole
		pos = data
	}
	return holes
}

// TestLogWritesIntoFilledSegments: over a file, under small flushed
// commits (as SQLite's) every segment the log has taken is written whole
// (with zeros first, fillLocked), so no log write lands in a hole, whose
// flush would commit file-system metadata. Without the fill the head
// segment is allocated only up to the head. Large commits with few
// flushes per segment fill nothing but the first head segment. The same
// holds over a file as long as the layout and over one that grows with
// the container (where the first head segment is filled when the log
// first writes into it, and no later one for growing alone).
func TestLogWritesIntoFilledSegments(t *testing.T) {
	for name, format := range map[string]func(testing.TB, string, Options) *Device{
		"full-size": formatFile, "growing": formatGrowingFile,
	} {
		t.Run(name, func(t *testing.T) { checkFilledSegments(t, format) })
	}
}

func checkFilledSegments(t *testing.T, format func(testing.TB, string, Options) *Device) {
	path := filepath.Join(t.TempDir(), "c")
	opts := Options{LogicalSize: 64 << 20, SegmentSize: 256 << 10, MaxBatch: 1 << 20, AtomicMax: 256 << 10}
	d := format(t, path, opts)
	defer d.Close()

	rng := rand.New(rand.NewPCG(1, 1))
	page := make([]byte, 16<<10)
	check := func(when string) {
		d.mu.Lock()
		defer d.mu.Unlock()
		taken := 0
		for s := range int64(len(d.segs)) {
			if d.segs[s].state == segFree {
				continue
			}
			taken++
			require.Zero(t, holesIn(t, path, d.g.segStart(s)*d.g.bs, d.g.segBlocks*d.g.bs),
				"%s: segment %d (%v) has holes", when, s, d.segs[s].state)
		}
		require.Positive(t, taken)
	}
	// New pages only: no garbage, so no cleaning moves data between the
	// flushes (a segment the cleaner writes sees few flushes, and the next
	// one is not filled).
	for i, p := range rng.Perm(300) {
		off := int64(p) * int64(len(page))
		require.NoError(t, d.CommitBatch([]blockdev.Piece{{Off: off, Data: page}}, 0))
		require.NoError(t, d.Flush())
		if i%50 == 0 {
			check(fmt.Sprintf("after commit %d", i))
		}
	}
	check("at the end")
	require.NoError(t, d.checkInvariants())
	st := d.Stats()
	t.Logf("%d segments filled, %d in use, %d discards", st.Fills, st.Segments-st.FreeSegments, st.Discards)
	require.Positive(t, st.Fills)

	// Few, large flushed commits: no segment is worth filling.
	opts.SegmentSize = 1 << 20 // a fill pays from 8 flushes in it
	e := format(t, filepath.Join(t.TempDir(), "c"), opts)
	defer e.Close()
	big := make([]byte, 512<<10) // two flushes per segment
	for i := range 64 {
		require.NoError(t, e.CommitBatch([]blockdev.Piece{{Off: int64(i%8) * int64(len(big)), Data: big}}, 0))
		require.NoError(t, e.Flush())
	}
	require.EqualValues(t, 1, e.Stats().Fills, "only the fill of the first head segment")
}
