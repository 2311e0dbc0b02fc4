package cow

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
)

// genSizedOps is genOps with about a third of the batches turned into
// CommitSized transactions: a cut anywhere (often mid-block, often below
// the data), the batch's pieces, then a size at or beyond their end, and
// some size-only transactions.
func genSizedOps(seed uint64, n int, nblocks int64, l blockdev.Limits) []wop {
	ops := genOps(seed, n, nblocks, l)
	rng := rand.New(rand.NewPCG(seed, 7))
	bs := int64(l.BlockSize)
	for i := range ops {
		o := &ops[i]
		if o.kind != opBatch || rng.IntN(3) != 0 {
			continue
		}
		o.kind = opSized
		if rng.IntN(4) == 0 {
			o.pieces = nil
		}
		o.cut = rng.Int64N(nblocks*bs + 1)
		end := int64(0)
		for _, p := range o.pieces {
			end = max(end, p.Off+int64(len(p.Data)))
		}
		// The size ends mid-block sometimes, and never before the pieces'
		// last block.
		lo := max(end-bs+1, 0)
		o.size = lo + rng.Int64N(nblocks*bs-lo+1)
	}
	return ops
}

// TestCommitSized checks the size a transaction sets, before and after a
// reopen: cut first, then pieces, then the size; a size-only transaction;
// refusals that write nothing.
func TestCommitSized(t *testing.T) {
	mem := newSmallMem(t)
	d, err := Format(mem, smallOptions)
	require.NoError(t, err)
	bs := d.g.bs
	require.Zero(t, d.FileSize())

	block := func(v byte) []byte {
		b := make([]byte, bs)
		for i := range b {
			b[i] = v
		}
		return b
	}
	read := func(d *Device, l int64) byte {
		b := blockdev.AlignedBuffer(int(bs), 512)
		_, err := d.ReadAt(b, l*bs)
		require.NoError(t, err)
		return b[0]
	}
	_, err = d.WriteAt(block(1), 5*bs, 0)
	require.NoError(t, err)
	require.Equal(t, 6*bs, d.FileSize(), "a write extends the file")

	// Cut to 2 blocks and a half, write block 8, size 9 blocks: block 5 is gone.
	require.NoError(t, d.CommitSized([]blockdev.Piece{{Off: 8 * bs, Data: block(2)}}, 2*bs+100, 9*bs, 0))
	require.Equal(t, 9*bs, d.FileSize())
	require.Zero(t, read(d, 5))
	require.Equal(t, byte(2), read(d, 8))

	// Shrink without data, mid-block.
	require.NoError(t, d.CommitSized(nil, d.FileSize(), 8*bs+7, 0))
	require.Equal(t, 8*bs+7, d.FileSize())
	require.Equal(t, byte(2), read(d, 8), "the block holding the size keeps its bytes")

	// Refused: a piece past the size, a size past the capacity.
	require.ErrorIs(t, d.CommitSized([]blockdev.Piece{{Off: 10 * bs, Data: block(3)}}, d.FileSize(), 10*bs, 0), blockdev.ErrOutOfRange)
	require.ErrorIs(t, d.CommitSized(nil, 0, d.Size()+1, 0), blockdev.ErrOutOfRange)
	require.Equal(t, 8*bs+7, d.FileSize())

	require.NoError(t, d.Flush())
	again, err := Open(mem.CrashClone(blockdev.CrashConfig{Survive: 0}), Options{})
	require.NoError(t, err)
	defer again.Close()
	require.Equal(t, 8*bs+7, again.FileSize(), "the size survives a reopen (replayed from the log)")
	require.Equal(t, byte(2), read(again, 8))
	require.Zero(t, read(again, 5))
	require.NoError(t, again.checkInvariants())
}

// TestCrashWithSizes takes crash images at every inner operation of
// workloads mixing writes, batches and size changes, and requires each
// image to show one prefix of the operations: the blocks and the file size
// of the same prefix, at least up to the last durable operation. A cut that
// landed without its batch, or a size without its data, shows no prefix.
func TestCrashWithSizes(t *testing.T) {
	t.Parallel()
	seeds := sized([]uint64{21}, []uint64{21}, []uint64{21, 22, 23, 24})
	points, images, recoveryCuts := 0, 0, 0
	for _, seed := range seeds {
		probe, err := Format(newSmallMem(t), smallOptions)
		require.NoError(t, err)
		l, nblocks := probe.Limits(), probe.Size()/int64(probe.Limits().BlockSize)
		ops := genSizedOps(seed, 80, nblocks, l)
		model := newPrefixModel(nblocks, int64(l.BlockSize))
		sized := 0
		for _, o := range ops {
			model.add(o)
			if o.kind == opSized {
				sized++
			}
		}
		require.Positive(t, sized)
		mem := newSmallMem(t)
		var at progress
		var mu sync.Mutex // reads run in parallel
		inj := blockdev.InjectorFunc(func(op blockdev.Op) error {
			if op.Kind == blockdev.OpRead {
				return nil // a crash image before a read shows what the one before the last write did
			}
			mu.Lock()
			defer mu.Unlock()
			points++
			for _, cfg := range crashConfigs(op.Index) {
				images++
				clone := mem.CrashClone(cfg)
				d, err := Open(clone, Options{})
				if !at.formatted && err != nil {
					require.ErrorIs(t, err, ErrNotFormatted)
					continue
				}
				require.NoError(t, err, "seed %d crash at %d %+v", seed, op.Index, cfg)
				require.NoError(t, d.checkInvariants())
				got, err := model.match(d, at.durable, at.started)
				require.NoError(t, err, "seed %d crash at %d %+v (progress %+v)", seed, op.Index, cfg, at)
				if images%7 == 0 {
					recoveryCuts += cutRecovery(t, clone, model, got)
				}
			}
			return nil
		})
		d := runWorkload(t, blockdev.WithFaults(mem, inj), ops, &at)
		got, err := model.match(d, len(ops), len(ops))
		require.NoError(t, err)
		require.Equal(t, len(ops), got)
	}
	t.Logf("crash points checked: %d over %d workloads, images verified: %d, power cuts inside their recovery: %d",
		points, len(seeds), images, recoveryCuts)
	require.Positive(t, recoveryCuts)
}

// cutRecovery opens crash image img again, cutting the power before each
// inner write, flush and discard of that Open in turn (its checkpoint, the
// segments it gives back), and requires each result to show state k, the
// one img showed: recovery never loses or invents a transaction. It
// returns the cuts made.
func cutRecovery(t *testing.T, img *blockdev.Mem, model *prefixModel, k int) int {
	n, err := cutRecoveryErr(img, model, k)
	require.NoError(t, err)
	return n
}

// cutRecoveryErr is cutRecovery, returning the first broken promise.
func cutRecoveryErr(img *blockdev.Mem, model *prefixModel, k int) (int, error) {
	for j := 0; ; j++ {
		base := img.CrashClone(blockdev.CrashConfig{Survive: 1})
		var cut *blockdev.Mem
		n := 0
		inj := blockdev.InjectorFunc(func(op blockdev.Op) error {
			if op.Kind != blockdev.OpRead {
				if n == j {
					cut = base.CrashClone(blockdev.CrashConfig{Seed: uint64(j), Survive: 0.5})
				}
				n++
			}
			return nil
		})
		d, err := Open(blockdev.WithFaults(base, inj), Options{})
		if err != nil {
			return j, fmt.Errorf("recovery to cut: %w", err)
		}
		_ = d.Close()
		if cut == nil {
			return j, nil
		}
		again, err := Open(cut, Options{})
		if err != nil {
			return j, fmt.Errorf("cut %d of a recovery: %w", j, err)
		}
		if _, err := model.match(again, k, k); err != nil {
			return j, fmt.Errorf("cut %d of a recovery: %w", j, err)
		}
	}
}

// TestCutWithoutBatchIsCaught is the negative control of TestCrashWithSizes:
// a cut committed as a transaction of its own, apart from the batch it
// belongs to, must be seen by the model as a state no prefix shows.
func TestCutWithoutBatchIsCaught(t *testing.T) {
	mem := newSmallMem(t)
	d, err := Format(mem, smallOptions)
	require.NoError(t, err)
	bs := d.g.bs
	nblocks := d.Size() / bs
	model := newPrefixModel(nblocks, bs)
	first := wop{kind: opBatch, id: 1, flags: blockdev.FUA, pieces: []blockdev.Piece{{Off: 0, Data: make([]byte, 4*bs)}}}
	crashmodel.Fill(first.pieces[0].Data, first.id, 0)
	require.NoError(t, first.apply(d))
	model.add(first)
	sized := wop{kind: opSized, id: 2, cut: bs, size: 3 * bs, pieces: []blockdev.Piece{{Off: 2 * bs, Data: make([]byte, bs)}}}
	crashmodel.Fill(sized.pieces[0].Data, sized.id, 2*bs)
	model.add(sized)
	// The broken commit: the cut alone, durable, and the batch never.
	require.NoError(t, d.CommitSized(nil, sized.cut, sized.cut, blockdev.FUA))
	clone := mem.CrashClone(blockdev.CrashConfig{Survive: 0})
	again, err := Open(clone, Options{})
	require.NoError(t, err)
	_, err = model.match(again, 1, 2)
	require.Error(t, err, "a cut without its batch must show no prefix state")
}

// TestContainerGrowsAndShrinks writes a file of a few MiB into a container
// whose capacity is far larger, then cuts it: the container holds about
// what the data needs, never its capacity, and gives segments back.
func TestContainerGrowsAndShrinks(t *testing.T) {
	opts := Options{LogicalSize: 64 << 20, SegmentSize: 256 << 10, MaxBatch: 1 << 20, AtomicMax: 256 << 10}
	d, _ := formatMem(t, blockdev.LimitsNone, opts)
	st := d.Stats()
	require.Equal(t, 1, st.Segments, "a new container holds one segment")
	const data = 4 << 20
	buf := make([]byte, 1<<20)
	for off := int64(0); off < data; off += int64(len(buf)) {
		require.NoError(t, d.CommitBatch([]blockdev.Piece{{Off: off, Data: buf}}, 0))
	}
	// Overwrite it a few times: the cleaner keeps within the budget.
	rng := rand.New(rand.NewPCG(5, 5))
	page := make([]byte, 16<<10)
	for range 4 * data / len(page) {
		off := rng.Int64N(data/int64(len(page))) * int64(len(page))
		require.NoError(t, d.CommitBatch([]blockdev.Piece{{Off: off, Data: page}}, 0))
	}
	st = d.Stats()
	t.Logf("4 MiB of data in a 64 MiB container: %d segments in use (%d free), %d KiB held, live %d KiB",
		st.Segments, st.FreeSegments, st.PhysicalBytes>>10, st.LiveBytes>>10)
	require.Equal(t, int64(data), st.FileBytes)
	require.Less(t, st.PhysicalBytes, int64(3*data), "the container follows its data, not its capacity")

	require.NoError(t, d.CommitSized(nil, 0, 0, 0))
	d.mu.Lock()
	require.NoError(t, d.checkpointLocked(false))
	require.NoError(t, d.checkpointLocked(false)) // the second gives the first's freed segments back
	d.mu.Unlock()
	st = d.Stats()
	t.Logf("after a cut to 0: %d segments (%d free), %d KiB held, %d discards", st.Segments, st.FreeSegments, st.PhysicalBytes>>10, st.Discards)
	require.Zero(t, st.LiveBytes)
	require.Equal(t, 1, st.Segments-st.FreeSegments, "only the head segment is held")
	require.Positive(t, st.Discards, "the freed segments were given back")
	require.NoError(t, d.checkInvariants())
}
