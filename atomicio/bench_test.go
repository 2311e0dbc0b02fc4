package atomicio_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

const (
	benchDevSize = 32 << 20
	benchRegion  = 4 << 20 // the cached range the benchmarks cycle over
)

// openBenchFile opens a File over a Mem device with no timer-driven
// writeback, so that nothing but the measured calls runs.
func openBenchFile(b *testing.B) *atomicio.File {
	b.Helper()
	mem, err := blockdev.NewMem(benchDevSize, blockdev.LimitsXFS)
	if err != nil {
		b.Fatal(err)
	}
	f, err := atomicio.OpenDevice(mem, atomicio.Options{CacheSize: 16 << 20, FlushInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	})
	return f
}

// BenchmarkReadHit compares a cache-hit ReadAt of untorn with pread on a
// warm kernel page cache, for 4 KiB and 16 KiB reads.
func BenchmarkReadHit(b *testing.B) {
	data := make([]byte, benchRegion)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, size := range []int{4 << 10, 16 << 10} {
		name := fmt.Sprintf("%dK", size>>10)
		b.Run("untorn-"+name, func(b *testing.B) {
			f := openBenchFile(b)
			if _, err := atomicio.WriteAt(f, data[:1<<20], 0); err != nil {
				b.Fatal(err)
			}
			for off := 1 << 20; off < benchRegion; off += 1 << 20 {
				if _, err := atomicio.WriteAt(f, data[off:off+1<<20], int64(off)); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			p := make([]byte, size)
			for off := 0; off < benchRegion; off += size { // pre-warm: every read below hits
				if _, err := f.ReadAt(p, int64(off)); err != nil {
					b.Fatal(err)
				}
			}
			before := f.Stats().CacheBytes
			b.SetBytes(int64(size))
			b.ReportAllocs()
			off := 0
			for b.Loop() {
				if _, err := f.ReadAt(p, int64(off)); err != nil {
					b.Fatal(err)
				}
				off = (off + size) % benchRegion
			}
			b.StopTimer()
			if after := f.Stats().CacheBytes; after != before {
				b.Fatalf("cache changed from %d to %d bytes: not all hits", before, after)
			}
		})
		b.Run("pread-"+name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "data")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
			fd, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer fd.Close()
			p := make([]byte, size)
			for off := 0; off < benchRegion; off += size { // pre-warm the kernel page cache
				if _, err := fd.ReadAt(p, int64(off)); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			off := 0
			for b.Loop() {
				if _, err := fd.ReadAt(p, int64(off)); err != nil {
					b.Fatal(err)
				}
				off = (off + size) % benchRegion
			}
		})
	}
}

// BenchmarkWriteHit compares an untorn 16 KiB WriteAt into cached,
// already-dirty pages with a plain copy of 16 KiB.
func BenchmarkWriteHit(b *testing.B) {
	const size, region = 16 << 10, 1 << 20 // 1 MiB stays below the background writeback threshold
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	b.Run("untorn-16K", func(b *testing.B) {
		f := openBenchFile(b)
		for off := 0; off < region; off += size { // pre-warm: cached and dirty
			if _, err := atomicio.WriteAt(f, src, int64(off)); err != nil {
				b.Fatal(err)
			}
		}
		passes := f.Stats().Writeback.Passes
		b.SetBytes(size)
		b.ReportAllocs()
		off := 0
		for b.Loop() {
			if _, err := atomicio.WriteAt(f, src, int64(off)); err != nil {
				b.Fatal(err)
			}
			off = (off + size) % region
		}
		b.StopTimer()
		if got := f.Stats().Writeback.Passes; got != passes {
			b.Logf("writeback ran %d passes during the benchmark", got-passes)
		}
	})
	b.Run("copy-16K", func(b *testing.B) {
		dst := make([]byte, region)
		b.SetBytes(size)
		b.ReportAllocs()
		off := 0
		for b.Loop() {
			copy(dst[off:off+size], src)
			off = (off + size) % region
		}
	})
}

// BenchmarkReadMiss: a 16 KiB ReadAt that misses the cache (a 1 MiB cache
// over a 32 MiB device, read at random) and reads the device through the
// read buffers.
func BenchmarkReadMiss(b *testing.B) {
	const size = 16 << 10
	mem, err := blockdev.NewMem(benchDevSize, blockdev.LimitsXFS)
	if err != nil {
		b.Fatal(err)
	}
	f, err := atomicio.OpenDevice(mem, atomicio.Options{CacheSize: 1 << 20, FlushInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	})
	p := make([]byte, size)
	slots := benchDevSize / size
	x := uint64(1)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		x = x*6364136223846793005 + 1442695040888963407
		if _, err := f.ReadAt(p, int64(x>>33)%int64(slots)*size); err != nil {
			b.Fatal(err)
		}
	}
}
