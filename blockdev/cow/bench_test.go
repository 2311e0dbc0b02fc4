package cow

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/xfstest"
)

const (
	benchPage    = 16 << 10
	benchPages   = 64
	benchLogical = 256 << 20
)

// benchDirs returns the file systems to benchmark on: the temp dir (ext4
// here) and, where it can be mounted, XFS.
func benchDirs(b *testing.B) map[string]func(b *testing.B) string {
	return map[string]func(b *testing.B) string{
		"tmpdir": func(b *testing.B) string { return b.TempDir() },
		"xfs":    func(b *testing.B) string { return xfstest.Mount(b) },
	}
}

func benchCOW(b *testing.B, dir string, opts Options) *Device {
	d := formatFile(b, filepath.Join(dir, "cow"), opts)
	b.Cleanup(func() { _ = d.Close() })
	return d
}

// BenchmarkBatchVsAppend commits 64 random 16 KiB pages as one batch with
// FUA (one sequential write and one flush) and, in the same iteration, the
// bound it is measured against: a 1 MiB sequential write into fresh space
// of a file plus fdatasync. It reports microseconds per page and the ratio
// of the two throughputs (>= 0.8 is the target).
func BenchmarkBatchVsAppend(b *testing.B) {
	for name, mkdir := range benchDirs(b) {
		b.Run(name, func(b *testing.B) {
			dir := mkdir(b)
			d := benchCOW(b, dir, Options{LogicalSize: benchLogical})
			app, err := blockdev.OpenFile(filepath.Join(dir, "append"), blockdev.FileOptions{Size: 4 << 30, Create: true})
			require.NoError(b, err)
			b.Cleanup(func() { _ = app.Close() })
			rng := rand.New(rand.NewPCG(1, 2))
			buf := blockdev.AlignedBuffer(benchPages*benchPage, 4096)
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			pages := d.Size() / benchPage
			var cowTime, appTime time.Duration
			var appOff int64
			b.ReportAllocs()
			b.SetBytes(benchPages * benchPage)
			for b.Loop() {
				pieces := make([]blockdev.Piece, 0, benchPages)
				seen := make(map[int64]bool, benchPages)
				for j := range benchPages {
					p := rng.Int64N(pages)
					for seen[p] {
						p = rng.Int64N(pages)
					}
					seen[p] = true
					pieces = append(pieces, blockdev.Piece{Off: p * benchPage, Data: buf[j*benchPage : (j+1)*benchPage]})
				}
				t0 := time.Now()
				require.NoError(b, d.CommitBatch(pieces, blockdev.FUA))
				t1 := time.Now()
				if appOff+int64(len(buf)) > app.Size() {
					appOff = 0
				}
				_, err := app.WriteAt(buf, appOff, 0)
				require.NoError(b, err)
				require.NoError(b, app.Flush())
				appOff += int64(len(buf))
				cowTime += t1.Sub(t0)
				appTime += time.Since(t1)
			}
			n := float64(b.N)
			b.ReportMetric(float64(cowTime.Microseconds())/n/benchPages, "us/page")
			b.ReportMetric(float64(appTime.Microseconds())/n, "append-us/MiB")
			b.ReportMetric(float64(appTime)/float64(cowTime), "ratio-vs-append")
		})
	}
}

// BenchmarkSeqRead reads a fresh, sequentially written device and one
// overwritten twice over with random 16 KiB batches, whole, in 1 MiB
// reads, and reports both speeds and their ratio (<= 2 is the target),
// also for the first pass, before reads defragmented the aged device.
func BenchmarkSeqRead(b *testing.B) {
	for name, mkdir := range benchDirs(b) {
		b.Run(name, func(b *testing.B) { benchSeqRead(b, mkdir, false) })
		b.Run(name+"-nodefrag", func(b *testing.B) { benchSeqRead(b, mkdir, true) })
	}
}

func benchSeqRead(b *testing.B, mkdir func(b *testing.B) string, nodefrag bool) {
	dir := mkdir(b)
	opts := Options{LogicalSize: 64 << 20, NoReadDefrag: nodefrag}
	fresh := benchCOW(b, filepath.Join(dir), opts)
	dir2 := filepath.Join(dir, "2")
	require.NoError(b, mkdirAll(dir2))
	aged := benchCOW(b, dir2, opts)
	buf := blockdev.AlignedBuffer(1<<20, 4096)
	for _, d := range []*Device{fresh, aged} {
		for off := int64(0); off < d.Size(); off += int64(len(buf)) {
			_, err := d.WriteAt(buf, off, 0)
			require.NoError(b, err)
		}
		require.NoError(b, d.Flush())
	}
	rng := rand.New(rand.NewPCG(3, 4))
	randomBatches(b, aged, rng, int(2*aged.Size()/(1<<20)), buf)
	readAll := func(d *Device) time.Duration {
		start := time.Now()
		for off := int64(0); off < d.Size(); off += int64(len(buf)) {
			_, err := d.ReadAt(buf, off)
			require.NoError(b, err)
		}
		return time.Since(start)
	}
	var tf, ta time.Duration
	var first float64
	b.ReportAllocs()
	b.SetBytes(2 * opts.LogicalSize)
	for b.Loop() {
		f, a := readAll(fresh), readAll(aged)
		if first == 0 {
			first = float64(a) / float64(f) // before reads defragmented it
		}
		tf += f
		ta += a
	}
	b.ReportMetric(first, "first-pass-slowdown")
	mb := float64(opts.LogicalSize) / (1 << 20) * float64(b.N)
	b.ReportMetric(mb/tf.Seconds(), "fresh-MB/s")
	b.ReportMetric(mb/ta.Seconds(), "aged-MB/s")
	b.ReportMetric(float64(ta)/float64(tf), "slowdown")
}

// BenchmarkRecovery1GiB opens a 1 GiB device (a sparse file) whose log
// holds a full checkpoint interval of random batches; the log is refilled
// (untimed) before every Open.
func BenchmarkRecovery1GiB(b *testing.B) {
	path := filepath.Join(b.TempDir(), "cow")
	d := formatFile(b, path, Options{LogicalSize: 1 << 30})
	rng := rand.New(rand.NewPCG(5, 6))
	buf := blockdev.AlignedBuffer(1<<20, 4096)
	randomBatches(b, d, rng, 128, buf)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		fillLog(b, d, rng, buf)
		require.NoError(b, d.Close())
		f, err := blockdev.OpenFile(path, blockdev.FileOptions{})
		require.NoError(b, err)
		b.StartTimer()
		d, err = Open(f, Options{})
		require.NoError(b, err)
	}
	b.StopTimer()
	require.NoError(b, d.Close())
}

func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }
