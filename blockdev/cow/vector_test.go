package cow

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// plainDevice hides every method but Device's, so that the container
// copies each record's data behind its header instead of writing it
// vectored.
type plainDevice struct{ blockdev.Device }

// TestRecordsCopiedOrVectored runs the same random workload (enough
// overwrites that the cleaner moves data) on a container that writes its
// records vectored (over Mem) and on one that copies them (over a device
// that is no VectorWriter), with some pieces misaligned in memory so that
// the vectored one copies those records too. Both must read back the
// model, and both must recover it from their flushed image, so a vectored
// write that sent other bytes than the copy would fails here. (That the
// data checksum folded from the block sums is the CRC of the data is
// TestSumFolderMatchesCRC; the crash tests, TestCrashChainsDuringRecovery
// first, replay records with it.)
func TestRecordsCopiedOrVectored(t *testing.T) {
	t.Parallel()
	l := blockdev.Limits{BlockSize: 4096, MemAlign: 4096}
	opts := Options{LogicalSize: 4 << 20, SparePercent: 30}
	for _, vectored := range []bool{true, false} {
		mem := newMem(t, l, opts)
		var inner blockdev.Device = mem
		if !vectored {
			inner = plainDevice{mem}
		}
		d, err := Format(inner, opts)
		require.NoError(t, err)
		_, isVec := inner.(blockdev.VectorWriter)
		require.Equal(t, vectored, isVec)
		model := make([]byte, opts.LogicalSize)
		rng := rand.New(rand.NewPCG(7, 8))
		pages := opts.LogicalSize / 16384
		raw := make([]byte, 8*16384+4096+1)
		for i := range 400 {
			var pieces []blockdev.Piece
			used := map[int64]bool{}
			for k := range 1 + rng.IntN(8) {
				p := rng.Int64N(pages)
				if used[p] {
					continue
				}
				used[p] = true
				// Every fifth batch takes its data from an address that is
				// not MemAlign-aligned.
				at := k * 16384
				if i%5 == 0 {
					at++
				}
				data := raw[at : at+16384]
				for j := range data {
					data[j] = byte(rng.Uint32())
				}
				copy(model[p*16384:], data)
				pieces = append(pieces, blockdev.Piece{Off: p * 16384, Data: data})
			}
			require.NoError(t, d.CommitBatch(pieces, 0))
			if i%16 == 15 {
				require.NoError(t, d.Flush())
			}
		}
		require.NoError(t, d.Flush())
		require.Positive(t, d.Stats().CleanedBlocks, "the workload must make the cleaner move data")
		got := make([]byte, opts.LogicalSize)
		_, err = d.ReadAt(got, 0)
		require.NoError(t, err)
		require.Equal(t, model, got, "vectored %v: read back", vectored)
		r, err := Open(mem.CrashClone(blockdev.CrashConfig{}), opts)
		require.NoError(t, err)
		clear(got)
		_, err = r.ReadAt(got, 0)
		require.NoError(t, err)
		require.Equal(t, model, got, "vectored %v: recovered", vectored)
		require.Zero(t, r.Stats().RepairedRecords, "vectored %v: replay repaired a record", vectored)
		require.NoError(t, r.Close())
		require.NoError(t, d.Close())
	}
}
