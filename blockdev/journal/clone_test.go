package journal

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/xfstest"
)

// openFiles formats a journal over a data file of size bytes in dir.
func openFiles(t testing.TB, dir string, size int64, opts Options) *Device {
	path := filepath.Join(dir, "data")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	data, err := blockdev.OpenFile(path, blockdev.FileOptions{Size: size})
	require.NoError(t, err)
	jrnl, err := blockdev.OpenFile(path+"-untorn", blockdev.FileOptions{Create: true})
	require.NoError(t, err)
	d, err := Format(data, jrnl, opts)
	require.NoError(t, err)
	return d
}

// pagesWorkload commits n random 16 KiB pages of a file of size bytes, 64
// per record, and returns the file's content.
func pagesWorkload(t testing.TB, d *Device, size int64, n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	want := make([]byte, size)
	const page = 16 << 10
	for i := 0; i < n; i += 64 {
		var pieces []blockdev.Piece
		used := map[int64]bool{}
		for range 64 {
			off := rng.Int64N(size/page) * page
			if used[off] {
				continue
			}
			used[off] = true
			p := blockdev.AlignedBuffer(page, 4096)
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
			copy(want[off:], p)
			pieces = append(pieces, blockdev.Piece{Off: off, Data: p})
		}
		require.NoError(t, d.CommitSized(pieces, d.FileSize(), size, 0))
		require.NoError(t, d.Flush())
	}
	return want
}

// TestCloneHomeOnXFS: on XFS with reflink and Options.Clone, checkpoints
// clone the images home (the data file shares the journal's blocks)
// instead of reading them back; the file then holds exactly what was
// written, also after the journal wrote over the shared blocks again.
// Without Clone, and on a file system without reflink, they are copied.
func TestCloneHomeOnXFS(t *testing.T) {
	mnt := xfstest.Mount(t)
	for _, noClone := range []bool{false, true} {
		dir := t.TempDir()
		if !noClone {
			dir = filepath.Join(mnt, "clone")
			require.NoError(t, os.Mkdir(dir, 0o755))
		} else {
			dir = filepath.Join(mnt, "copy")
			require.NoError(t, os.Mkdir(dir, 0o755))
		}
		const size = 8 << 20
		d := openFiles(t, dir, size, Options{Capacity: 2 << 20, NoBackground: true, Clone: !noClone})
		want := pagesWorkload(t, d, size, 1024, 3) // 16 MiB through a 2 MiB journal: it laps 8 times
		s := d.Stats()
		require.NoError(t, d.Close())
		t.Logf("noClone=%v: %d checkpoints, %d clones, %d reads back", noClone, s.Checkpoints, s.Clones, s.HomeReads)
		if noClone {
			require.Zero(t, s.Clones)
			require.Positive(t, s.HomeReads)
		} else {
			require.Positive(t, s.Clones, "XFS with reflink clones")
			require.Zero(t, s.HomeReads, "nothing is read back")
		}
		got, err := os.ReadFile(filepath.Join(dir, "data"))
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got), "the file holds what was written")
	}
}

// TestCloneFallsBackToCopy: where the devices cannot share blocks (ext4,
// the temporary directory), checkpoints copy, Clone or not.
func TestCloneFallsBackToCopy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const size = 4 << 20
	d := openFiles(t, dir, size, Options{Capacity: 1 << 20, NoBackground: true, Clone: true})
	want := pagesWorkload(t, d, size, 256, 4)
	s := d.Stats()
	require.NoError(t, d.Close())
	got, err := os.ReadFile(filepath.Join(dir, "data"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got))
	t.Logf("%d checkpoints, %d clones, %d reads back", s.Checkpoints, s.Clones, s.HomeReads)
	if s.Clones == 0 {
		require.Positive(t, s.HomeReads, "no reflink here: copied")
	}
}

// BenchmarkCheckpointXFS measures what a checkpoint of 1024 random 16 KiB
// pages costs on XFS with reflink, cloned and copied, and what the
// journal's next lap over those blocks costs after each (a clone leaves
// them shared: the journal's writes copy on write).
func BenchmarkCheckpointXFS(b *testing.B) {
	mnt := xfstest.Mount(b)
	for _, noClone := range []bool{false, true} {
		name := "clone"
		if noClone {
			name = "copy"
		}
		b.Run(name, func(b *testing.B) {
			dir, err := os.MkdirTemp(mnt, name)
			require.NoError(b, err)
			const size = 256 << 20
			d := openFiles(b, dir, size, Options{Capacity: 32 << 20, NoBackground: true, Clone: !noClone})
			defer func() { _ = d.Close() }()
			var ckpt, lap time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				pagesWorkload(b, d, size, 1024, uint64(i))
				lap += time.Since(t0)
				t1 := time.Now()
				require.NoError(b, d.Checkpoint())
				ckpt += time.Since(t1)
			}
			b.ReportMetric(float64(ckpt.Microseconds())/float64(b.N)/1024, "us/page-checkpoint")
			b.ReportMetric(float64(lap.Microseconds())/float64(b.N)/1024, "us/page-journal")
		})
	}
}
