package journal

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// inspectRig is a journal over two Mems left with records in it, as a
// crash would leave it: nrec transactions, each flushed, then the Device
// detached (nothing checkpointed).
type inspectRig struct {
	data, jrnl *blockdev.Mem
	recs       []record // the records, as the Device kept them
	model      fileModel
	blocks     int64 // distinct blocks with an image in the log (after cuts)
	logBytes   int64 // Stats().LogBytes before the detach
	opts       Options
}

func newInspectRig(t *testing.T, seed uint64, nrec int) *inspectRig {
	const dataSize = 64 * testBS
	opts := testOptions(256)
	r := newRig(t, dataSize, opts)
	rng := rand.New(rand.NewPCG(seed, 7))
	m := fileModel{content: make([]byte, dataSize)}
	inLog := map[int64]bool{}
	for range nrec {
		pieces, cut, size := randomTxn(rng, m.size, dataSize)
		if cut < m.size {
			for b := range inLog {
				if b >= ceilDiv(cut, testBS) {
					delete(inLog, b)
				}
			}
		}
		for _, p := range pieces {
			for k := range int64(len(p.Data)) / testBS {
				inLog[p.Off/testBS+k] = true
			}
		}
		m.apply(pieces, cut, size)
		require.NoError(t, r.d.CommitSized(pieces, cut, size, 0))
		require.NoError(t, r.d.Flush())
	}
	st := r.d.Stats()
	require.Zero(t, st.Checkpoints, "the test needs every record still in the log")
	ir := &inspectRig{data: r.data, jrnl: r.jrnl, model: m, blocks: int64(len(inLog)), logBytes: st.LogBytes, opts: opts}
	r.d.mu.RLock()
	ir.recs = append(ir.recs, r.d.recs...)
	r.d.mu.RUnlock()
	require.GreaterOrEqual(t, len(ir.recs), 3, "transactions that change nothing write no record")
	r.d.Detach()
	return ir
}

// memImage is a copy of what a Mem holds now.
func memImage(t *testing.T, m *blockdev.Mem) []byte {
	buf := blockdev.AlignedBuffer(int(m.Size()), m.Limits().MemAlign)
	_, err := m.ReadAt(buf, 0)
	require.NoError(t, err)
	return buf
}

// flipBits flips the given bits of the i-th data block of record rec.
func (ir *inspectRig) flipBits(t *testing.T, rec record, i int64, bits ...int) {
	off := (hdrCopies + (rec.lsn+rec.hdrBlocks+i)%256) * testBS
	blk := blockdev.AlignedBuffer(testBS, ir.jrnl.Limits().MemAlign)
	_, err := ir.jrnl.ReadAt(blk, off)
	require.NoError(t, err)
	for _, b := range bits {
		blk[b/8] ^= 1 << (b % 8)
	}
	_, err = ir.jrnl.WriteAt(blk, off, 0)
	require.NoError(t, err)
	require.NoError(t, ir.jrnl.Flush())
}

// dataRecord returns the index of the first record from `from` on that
// carries data.
func (ir *inspectRig) dataRecord(t *testing.T, from int) int {
	for i := from; i < len(ir.recs); i++ {
		if len(ir.recs[i].extents) > 0 {
			return i
		}
	}
	t.Fatalf("no record with data from %d on", from)
	return -1
}

// inspectNoWrites runs Inspect over both Mems behind FaultDevices that
// fail and count every write and flush, and requires that none was tried
// and that both images are unchanged.
func (ir *inspectRig) inspectNoWrites(t *testing.T, progress func(done, total int64)) (Report, error) {
	var tried atomic.Int64
	inj := blockdev.InjectorFunc(func(op blockdev.Op) error {
		if op.Kind != blockdev.OpRead {
			tried.Add(1)
			return blockdev.ErrInjectedEIO
		}
		return nil
	})
	before := [][]byte{memImage(t, ir.data), memImage(t, ir.jrnl)}
	writes := ir.data.Stats().Writes + ir.jrnl.Stats().Writes
	rep, err := Inspect(blockdev.WithFaults(ir.data, inj), blockdev.WithFaults(ir.jrnl, inj), progress)
	require.Zero(t, tried.Load(), "Inspect tried to write or flush")
	require.Equal(t, writes, ir.data.Stats().Writes+ir.jrnl.Stats().Writes)
	require.True(t, bytes.Equal(before[0], memImage(t, ir.data)), "the data device changed")
	require.True(t, bytes.Equal(before[1], memImage(t, ir.jrnl)), "the journal device changed")
	return rep, err
}

// openImage recovers the journal for real (Open) and returns the file.
func (ir *inspectRig) openImage(t *testing.T) (fileModel, error) {
	d, err := Open(ir.data, ir.jrnl, ir.opts)
	if err != nil {
		return fileModel{}, err
	}
	m, err := readImage(d)
	require.NoError(t, err)
	d.Detach()
	return m, nil
}

// TestInspectReportsTheLog: Inspect reports the records Open replays (count,
// fill, sizes, distinct blocks), writes nothing to either device, reports
// progress up to done == total, and Open afterwards recovers the file the
// report announced.
func TestInspectReportsTheLog(t *testing.T) {
	t.Parallel()
	for seed := range uint64(4) {
		ir := newInspectRig(t, seed, 6)
		var calls int
		var last, lastTotal int64
		rep, err := ir.inspectNoWrites(t, func(done, total int64) {
			require.GreaterOrEqual(t, done, last, "progress went back")
			require.LessOrEqual(t, done, total)
			calls++
			last, lastTotal = done, total
		})
		require.NoError(t, err)
		require.Positive(t, calls)
		require.Equal(t, lastTotal, last, "the last progress call ends the walk")
		// It read the header copies, the records and, looking past the
		// end of the log, the whole area.
		require.GreaterOrEqual(t, last, int64(hdrCopies*testBS)+rep.LogBytes+rep.Capacity)
		require.LessOrEqual(t, last, int64(hdrCopies*testBS)+2*rep.Capacity+int64(testBS)*int64(rep.Records+2))
		require.Equal(t, len(ir.recs), rep.Records)
		require.Equal(t, uint64(1), rep.Generation)
		require.Equal(t, uint64(1), rep.FirstSeq)
		require.Equal(t, ir.logBytes, rep.LogBytes)
		require.Equal(t, int64(256*testBS), rep.Capacity)
		require.Equal(t, ir.model.size, rep.FileSize)
		require.Zero(t, rep.BaseSize)
		require.Equal(t, ir.blocks*testBS, rep.HomeBytes)
		require.Zero(t, rep.Repaired)
		var data int64
		for _, r := range ir.recs {
			for _, e := range r.extents {
				data += int64(e.Count) * testBS
			}
		}
		require.Equal(t, data, rep.DataBytes)

		got, err := ir.openImage(t)
		require.NoError(t, err)
		require.True(t, got.equal(ir.model), "Open recovers the file the report describes")
	}
}

// TestInspectDamage: damage in the log is reported as Open sees it, and
// Inspect still writes nothing: one flipped bit is corrected (Repaired);
// a record damaged beyond that while later records prove it durable is
// ErrCorrupt (Open agrees); the same damage in the last record is a torn
// tail (one record less).
func TestInspectDamage(t *testing.T) {
	t.Parallel()
	t.Run("one-bit", func(t *testing.T) {
		t.Parallel()
		ir := newInspectRig(t, 1, 6)
		ir.flipBits(t, ir.recs[ir.dataRecord(t, 1)], 0, 100)
		rep, err := ir.inspectNoWrites(t, nil)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Repaired)
		require.Equal(t, len(ir.recs), rep.Records)
		got, err := ir.openImage(t)
		require.NoError(t, err)
		require.True(t, got.equal(ir.model))
	})
	t.Run("durable-record", func(t *testing.T) {
		t.Parallel()
		ir := newInspectRig(t, 2, 6)
		i := ir.dataRecord(t, 1)
		require.Less(t, i, len(ir.recs)-1, "a later record must exist")
		ir.flipBits(t, ir.recs[i], 0, 100, 3000)
		rep, err := ir.inspectNoWrites(t, nil)
		require.ErrorIs(t, err, ErrCorrupt)
		require.Equal(t, uint64(1), rep.Generation, "the header's fields are reported")
		_, oerr := ir.openImage(t)
		require.ErrorIs(t, oerr, ErrCorrupt, "Open agrees")
	})
	t.Run("torn-tail", func(t *testing.T) {
		t.Parallel()
		ir := newInspectRig(t, 3, 6)
		n := len(ir.recs)
		last := ir.recs[n-1]
		require.NotEmpty(t, last.extents, "the seed must leave data in the last record")
		ir.flipBits(t, last, 0, 100, 3000)
		rep, err := ir.inspectNoWrites(t, nil)
		require.NoError(t, err)
		require.Equal(t, n-1, rep.Records)
	})
}

// TestInspectHeaders: a journal device without a journal is
// ErrNotFormatted; one whose two header copies are both damaged is
// ErrCorrupt; nil devices are refused.
func TestInspectHeaders(t *testing.T) {
	t.Parallel()
	ir := newInspectRig(t, 4, 4)
	blank, err := blockdev.NewMem(ir.jrnl.Size(), blockdev.LimitsNone)
	require.NoError(t, err)
	_, err = Inspect(ir.data, blank, nil)
	require.ErrorIs(t, err, ErrNotFormatted)

	for copyNo := range int64(hdrCopies) {
		blk := blockdev.AlignedBuffer(testBS, ir.jrnl.Limits().MemAlign)
		_, err := ir.jrnl.ReadAt(blk, copyNo*testBS)
		require.NoError(t, err)
		blk[40] ^= 1
		_, err = ir.jrnl.WriteAt(blk, copyNo*testBS, 0)
		require.NoError(t, err)
	}
	_, err = Inspect(ir.data, ir.jrnl, nil)
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = Inspect(nil, ir.jrnl, nil)
	require.True(t, errors.Is(err, ErrInvalidOptions))
}
