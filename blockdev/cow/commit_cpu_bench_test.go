package cow

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// nullDevice takes every write and forgets it (reads return zeros): a
// device of no cost, so that a benchmark over it measures the container's
// own CPU time.
type nullDevice struct{ size int64 }

func (n nullDevice) ReadAt(p []byte, off int64) (int, error) { clear(p); return len(p), nil }
func (n nullDevice) WriteAt(p []byte, off int64, _ blockdev.Flags) (int, error) {
	return len(p), nil
}
func (n nullDevice) Flush() error { return nil }
func (n nullDevice) Size() int64  { return n.size }
func (n nullDevice) Limits() blockdev.Limits {
	return blockdev.Limits{BlockSize: 4096, MemAlign: 4096}
}
func (n nullDevice) Close() error { return nil }

// nullVector is a nullDevice that takes vectored writes too.
type nullVector struct{ nullDevice }

func (n nullVector) WritevAt(bufs [][]byte, off int64, _ blockdev.Flags) (int, error) {
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	return total, nil
}

// BenchmarkCommitCPU commits 64 random 16 KiB pages (one Sync's worth in
// examples/bench) to a container over a device of no cost, with the
// record's data copied behind its header ("copied") or sent from where it
// lies ("vectored"): the container's CPU time per page.
func BenchmarkCommitCPU(b *testing.B) {
	for _, tc := range []struct {
		name  string
		inner blockdev.Device
	}{
		{"copied", nullDevice{size: 1 << 40}},
		{"vectored", nullVector{nullDevice{size: 1 << 40}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d, err := Format(tc.inner, Options{LogicalSize: 1 << 30})
			require.NoError(b, err)
			rng := rand.New(rand.NewPCG(1, 2))
			buf := blockdev.AlignedBuffer(benchPages*benchPage, 4096)
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			pages := int64(1<<30) / benchPage
			pieces := make([]blockdev.Piece, benchPages)
			b.ReportAllocs()
			b.SetBytes(benchPages * benchPage)
			for b.Loop() {
				for j := range pieces {
					p := (int64(j)*pages/benchPages + rng.Int64N(pages/benchPages)) * benchPage
					pieces[j] = blockdev.Piece{Off: p, Data: buf[j*benchPage : (j+1)*benchPage]}
				}
				require.NoError(b, d.CommitBatch(pieces, 0))
				require.NoError(b, d.Flush())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N)/benchPages, "us/page")
		})
	}
}
