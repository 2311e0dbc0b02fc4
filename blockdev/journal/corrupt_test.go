package journal

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/testsize"
)

// flipBit flips bit i of the Mem's durable image (a crash image: it has no
// volatile writes).
func flipBit(t testing.TB, m *blockdev.Mem, i int64) {
	b := make([]byte, m.Limits().BlockSize)
	off := i / 8 / int64(len(b)) * int64(len(b))
	_, err := m.ReadAt(b, off)
	require.NoError(t, err)
	b[i/8-off] ^= 1 << (i % 8)
	_, err = m.WriteAt(b, off, blockdev.FUA)
	require.NoError(t, err)
}

// TestBitFlipsInTheJournal runs workloads whose records stay in the
// journal (flushed, not yet home), then flips one random bit of the
// journal device (headers, records, free space alike; half of the flips
// in the live records) and opens a copy: it must either fail with
// ErrCorrupt naming the damage (detected) or show the file exactly as
// flushed (harmless or repaired), never other data without an error
// (silent). A flip in the last records, which no later record proves
// durable, is corrected (one bit), not dropped as a torn tail; two flips
// in one block of a record that a later record proves durable are
// detected. (Two flips in the records of the last flush before a crash,
// which nothing later proves durable, look like a torn tail: the package
// documents that.)
func TestBitFlipsInTheJournal(t *testing.T) {
	t.Parallel()
	var detected, harmless, repaired int
	for seed := range uint64(testsize.Pick(6, 40)) {
		w := workload{seed: seed, steps: 30, dataSize: 64 * testBS, area: 64}
		opts := w.options()
		r := newRig(t, w.dataSize, opts)
		rng := rand.New(rand.NewPCG(seed, 11))
		cur := fileModel{content: make([]byte, w.dataSize)}
		for range w.steps {
			pieces, cut, size := randomTxn(rng, cur.size, w.dataSize)
			if err := r.d.CommitSized(pieces, cut, size, 0); errors.Is(err, ErrTooLarge) {
				break
			} else {
				require.NoError(t, err)
			}
			cur.apply(pieces, cut, size)
			if rng.IntN(3) == 0 {
				require.NoError(t, r.d.Flush())
			}
		}
		require.NoError(t, r.d.Flush())
		// One more record after that flush: it proves every record before
		// it durable (its watermark), as the next Sync's record does.
		last := cur.size - 1 // another size
		if last < 0 {
			last = 1
		}
		require.NoError(t, r.d.CommitSized(nil, cur.size, last, 0))
		cur.size = last
		require.NoError(t, r.d.Flush())
		r.d.mu.RLock()
		start, head := r.d.hdr.start, r.d.head
		lastRec := head
		if n := len(r.d.recs); n > 0 {
			lastRec = r.d.recs[n-1].lsn
		}
		r.d.mu.RUnlock()
		area := opts.Capacity / testBS
		bitIn := func(lsn int64) int64 { return (hdrCopies+lsn%area)*testBS*8 + rng.Int64N(testBS*8) }
		base := r.cut(blockdev.CrashConfig{})
		_ = r.d.Close()
		for k := range 12 {
			mems := blockdev.CrashCloneAll(blockdev.CrashConfig{Survive: 1}, base...)
			var bit int64
			switch {
			case k%3 == 0 && head > start: // in a live record
				bit = bitIn(start + rng.Int64N(head-start))
			case k%3 == 1 && lastRec > start: // two in one block of a record a later one proves durable
				lsn := start + rng.Int64N(lastRec-start)
				bit = bitIn(lsn)
				flipBit(t, mems[1], bit/8/testBS*testBS*8+(bit+1+rng.Int64N(testBS*8-1))%(testBS*8))
			default:
				bit = rng.Int64N(mems[1].Size() * 8)
			}
			flipBit(t, mems[1], bit)
			r2, err := reopen(t, mems, opts, nil)
			if err != nil {
				require.ErrorIs(t, err, ErrCorrupt, "seed %d, bit %d: only ErrCorrupt may fail the open", seed, bit)
				detected++
				continue
			}
			img, err := readImage(r2.d)
			require.NoError(t, err)
			require.True(t, img.equal(cur), "seed %d, bit %d (journal byte %d): silent: the file differs from what was flushed", seed, bit, bit/8)
			if r2.d.Stats().Repaired > 0 {
				repaired++
			}
			harmless++
			_ = r2.d.Close()
		}
	}
	t.Logf("flipped bits: %d detected (ErrCorrupt), %d harmless (%d of them repaired), 0 silent", detected, harmless, repaired)
	require.Positive(t, repaired, "single flips in live records are repaired")
	require.Positive(t, detected, "two flips in a record proven durable are detected")
}

// TestHeaderDamageBeforeTheFirstCheckpoint: a new journal holds its first
// header in both copies, so one damaged copy (a flipped bit in its magic,
// say) leaves the other; a journal device whose header blocks hold
// something that is not blank is ErrCorrupt, never ErrNotFormatted (which
// would invite a Format over synced records). The torture campaigns found
// the first: corruption/none-journal, seeds 50036 and 50173.
func TestHeaderDamageBeforeTheFirstCheckpoint(t *testing.T) {
	t.Parallel()
	for copyNo := range int64(hdrCopies) {
		r := newRig(t, 16*testBS, testOptions(16))
		page := blockdev.AlignedBuffer(testBS, 512)
		page[0] = 7
		require.NoError(t, r.d.CommitSized([]blockdev.Piece{{Off: 0, Data: page}}, 0, testBS, blockdev.FUA))
		mems := r.cut(blockdev.CrashConfig{})
		_ = r.d.Close()
		flipBit(t, mems[1], copyNo*testBS*8+3) // in the magic
		r2, err := reopen(t, blockdev.CrashCloneAll(blockdev.CrashConfig{Survive: 1}, mems...), testOptions(16), nil)
		require.NoError(t, err, "copy %d damaged: the other holds the header", copyNo)
		img, err := readImage(r2.d)
		require.NoError(t, err)
		require.Equal(t, byte(7), img.content[0])
		_ = r2.d.Close()
		flipBit(t, mems[1], (1-copyNo)*testBS*8+5) // both damaged now
		_, err = reopen(t, mems, testOptions(16), nil)
		require.ErrorIs(t, err, ErrCorrupt)
		require.NotErrorIs(t, err, ErrNotFormatted)
	}
}
