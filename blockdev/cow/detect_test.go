package cow

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
)

// Bit flips that must be detected (issue 11): damage to durable data is
// corruption, never a shorter log and never wrong data. Only a record at
// the end of the log that was not flushed may be damaged by a crash (a
// torn tail), and recovery drops it quietly.

const recordMagic = 0x43525455 // "UTRC" little-endian: a record header starts its block

// detectTx is transaction i of the detection tests: logical blocks i and
// i+16, one block each, stamped with id i.
func detectTx(i uint64, bs int64) wop {
	o := wop{kind: opBatch, id: i}
	for _, lb := range []int64{int64(i), int64(i) + 16} {
		p := blockdev.Piece{Off: lb * bs, Data: make([]byte, bs)}
		crashmodel.Fill(p.Data, i, p.Off)
		o.pieces = append(o.pieces, p)
	}
	return o
}

// durableLog formats a device whose log after its checkpoint holds n
// transactions, each flushed. It returns the device, its Mem and the
// prefix model of the transactions.
func durableLog(t *testing.T, n int) (*Device, *blockdev.Mem, *prefixModel) {
	opts := smallOptions
	opts.CheckpointInterval = 1 << 20
	mem := newMem(t, crashLimits, opts)
	d, err := Format(mem, opts)
	require.NoError(t, err)
	bs := int64(d.Limits().BlockSize)
	model := newPrefixModel(d.Size()/bs, bs)
	ckpts := d.Stats().Checkpoints
	for i := range uint64(n) {
		o := detectTx(i+1, bs)
		require.NoError(t, o.apply(d))
		require.NoError(t, d.Flush())
		model.add(o)
	}
	require.Equal(t, ckpts, d.Stats().Checkpoints, "the transactions must all be in the log after the checkpoint")
	return d, mem, model
}

// rawBlocks returns the physical blocks of mem whose content is data, and
// the blocks that start with a record header.
func rawBlocks(t *testing.T, mem *blockdev.Mem, bs int64, data []byte) (found, headers []int64) {
	img, err := crashmodel.ReadAll(mem)
	require.NoError(t, err)
	for b := range int64(len(img)) / bs {
		blk := img[b*bs : (b+1)*bs]
		if bytes.Equal(blk, data) {
			found = append(found, b)
		}
		if binary.LittleEndian.Uint32(blk) == recordMagic {
			headers = append(headers, b)
		}
	}
	return found, headers
}

// flipBit flips one bit of physical block b of mem, durably.
func flipBit(t *testing.T, mem *blockdev.Mem, b, bs int64, byteIdx, bit int) {
	buf := blockdev.AlignedBuffer(int(bs), mem.Limits().MemAlign)
	_, err := mem.ReadAt(buf, b*bs)
	require.NoError(t, err)
	buf[byteIdx] ^= 1 << bit
	_, err = mem.WriteAt(buf, b*bs, blockdev.FUA)
	require.NoError(t, err)
}

// dataBlockOf finds the one physical block holding the data transaction
// id wrote at logical block lb, and the record headers of the image.
func dataBlockOf(t *testing.T, mem *blockdev.Mem, id uint64, lb, bs int64) (int64, []int64) {
	want := make([]byte, bs)
	crashmodel.Fill(want, id, lb*bs)
	found, headers := rawBlocks(t, mem, bs, want)
	require.Len(t, found, 1, "the data of transaction %d at logical block %d", id, lb)
	require.NotEmpty(t, headers, "no record header (magic UTRC) in the image")
	return found[0], headers
}

// writeRecorder is an injector that records every write and flush.
type writeRecorder struct{ ops []blockdev.Op }

func (w *writeRecorder) MaybeError(op blockdev.Op) error {
	if op.Kind != blockdev.OpRead {
		w.ops = append(w.ops, op)
	}
	return nil
}

// TestMidLogCorruptionDetected: five transactions, each flushed, lie in
// the log after the checkpoint.
//
//   - A bit flipped in the data of a record in the middle of the log (of
//     transaction 2, 3 or 4; found in the raw image by its content, after
//     a record header) is corruption: Open must fail with ErrCorrupt,
//     without writing to the device. Recovering the log up to the damage
//     would silently drop durable transactions.
//   - A bit flipped in the last record of the log, written but not
//     flushed before a crash, is a torn tail: Open succeeds and shows the
//     flushed transactions.
//   - A bit flipped in the data of an older, checkpointed transaction
//     makes ReadAt of that block fail with ErrCorrupt, on the device that
//     is open and after a new Open, every time (a read must not rewrite
//     the damaged data with a fresh checksum); other blocks read fine.
func TestMidLogCorruptionDetected(t *testing.T) {
	t.Run("mid-log data", func(t *testing.T) {
		d, mem, model := durableLog(t, 5)
		bs := int64(d.Limits().BlockSize)
		for _, id := range []uint64{2, 3, 4} {
			for i, lb := range []int64{int64(id), int64(id) + 16} {
				img := mem.CrashClone(blockdev.CrashConfig{Survive: 1})
				b, headers := dataBlockOf(t, img, id, lb, bs)
				flipBit(t, img, b, bs, 100+i*1000, int(id)%8)
				rec := &writeRecorder{}
				d2, err := Open(blockdev.WithFaults(img, rec), Options{})
				if err == nil {
					k, merr := model.match(d2, 0, 5)
					t.Errorf("bit flipped in the data of transaction %d of 5 (physical block %d, logical %d; record headers at %v): "+
						"Open succeeded and shows the state after %d transactions (%v), after %d writes and flushes",
						id, b, lb, headers, k, merr, len(rec.ops))
					continue
				}
				require.ErrorIs(t, err, ErrCorrupt, "bit flipped in the data of transaction %d of 5", id)
				require.Empty(t, rec.ops, "Open of a corrupt device wrote to it")
			}
		}
	})

	t.Run("unflushed tail", func(t *testing.T) {
		d, mem, model := durableLog(t, 5)
		bs := int64(d.Limits().BlockSize)
		tail := detectTx(6, bs)
		require.NoError(t, tail.apply(d)) // not flushed
		model.add(tail)
		for i, lb := range []int64{6, 22} {
			// A torn block (what was there before, here zeros) ends the log.
			img := mem.CrashClone(blockdev.CrashConfig{Survive: 1}) // the tail record reached the disk
			b, _ := dataBlockOf(t, img, 6, lb, bs)
			zero := blockdev.AlignedBuffer(int(bs), 512)
			_, err := img.WriteAt(zero, b*bs, blockdev.FUA)
			require.NoError(t, err)
			d2, err := Open(img, Options{})
			require.NoError(t, err, "a torn tail is not corruption")
			_, err = model.match(d2, 5, 5)
			require.NoError(t, err)

			// One flipped bit is no tear: replay corrects it and keeps the
			// transaction (an outcome the crash allows too).
			img = mem.CrashClone(blockdev.CrashConfig{Survive: 1})
			flipBit(t, img, b, bs, 200+i*1000, 5)
			d2, err = Open(img, Options{})
			require.NoError(t, err, "a flipped bit in the tail is corrected")
			_, err = model.match(d2, 6, 6)
			require.NoError(t, err)
			require.EqualValues(t, 1, d2.Stats().RepairedRecords)
		}
	})

	t.Run("checkpointed data", func(t *testing.T) {
		_, mem, model := durableLog(t, 5)
		img := mem.CrashClone(blockdev.CrashConfig{Survive: 1})
		d, err := Open(img, Options{NoReadDefrag: true}) // recovery checkpoints the log
		require.NoError(t, err)
		_, err = model.match(d, 5, 5)
		require.NoError(t, err)
		bs := int64(d.Limits().BlockSize)
		b, _ := dataBlockOf(t, img, 2, 2, bs)
		flipBit(t, img, b, bs, 300, 1)

		want := make([]byte, bs)
		crashmodel.Fill(want, 2, 2*bs)
		// readFails checks the reads of d, reporting the first failure.
		readFails := func(d *Device, what string) {
			t.Helper()
			one := blockdev.AlignedBuffer(int(bs), d.Limits().MemAlign)
			all := blockdev.AlignedBuffer(int(d.Size()), d.Limits().MemAlign)
			for try := range 2 {
				_, err := d.ReadAt(one, 2*bs)
				switch {
				case err == nil && bytes.Equal(one, want):
					t.Errorf("%s, read %d: ReadAt of the damaged block returned the right data: was nothing damaged?", what, try)
					return
				case err == nil:
					t.Errorf("%s, read %d: ReadAt of the damaged block returned the damaged data without an error", what, try)
					return
				case !errors.Is(err, ErrCorrupt):
					t.Errorf("%s, read %d: ReadAt of the damaged block: %v, want an error wrapping ErrCorrupt", what, try, err)
					return
				}
				if _, err := d.ReadAt(all, 0); !errors.Is(err, ErrCorrupt) {
					t.Errorf("%s, read %d: a read of the whole device: %v, want an error wrapping ErrCorrupt", what, try, err)
					return
				}
			}
			// The other blocks still read right.
			for _, lb := range []int64{3, 18, 21} {
				_, err := d.ReadAt(one, lb*bs)
				require.NoError(t, err, "%s: logical block %d", what, lb)
				other := make([]byte, bs)
				crashmodel.Fill(other, uint64(lb%16), lb*bs)
				require.Equal(t, other, one, "%s: logical block %d", what, lb)
			}
		}
		readFails(d, "the device that was open")
		d2, err := Open(img.CrashClone(blockdev.CrashConfig{Survive: 1}), Options{})
		require.NoError(t, err, "only a data block is damaged")
		readFails(d2, "after Open")
	})
}
