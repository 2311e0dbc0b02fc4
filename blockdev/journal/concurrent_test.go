package journal

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/testsize"
)

// versioned fills a block with its number and a version, so that a read
// tells which write it saw and whether it saw one whole.
func versioned(block int64, v uint64) []byte {
	b := blockdev.AlignedBuffer(testBS, 512)
	for o := 0; o < testBS; o += 16 {
		binary.LittleEndian.PutUint64(b[o:], uint64(block))
		binary.LittleEndian.PutUint64(b[o+8:], v)
	}
	return b
}

// TestReadsDuringCheckpoints: a writer commits and flushes versioned
// blocks while the background checkpointer (a small threshold, a short
// idle time) copies them home and readers read them: every read shows a
// whole block of a version at least the one committed before the read
// began (read-your-writes across the journal, the ring's reuse and the
// data device), never a torn or stale one. Run under -race it also checks
// the locking.
func TestReadsDuringCheckpoints(t *testing.T) {
	t.Parallel()
	const blocks = 48
	opts := Options{Capacity: 32 * testBS, CheckpointAt: 8 * testBS, Idle: time.Millisecond, QueueDepth: 4}
	r := newRig(t, blocks*testBS, opts)
	defer func() { _ = r.d.Close() }()
	var committed [blocks]atomic.Uint64 // the version each block's last commit wrote
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			buf := blockdev.AlignedBuffer(2*testBS, 512)
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Microsecond): // leave the CPUs to the writer now and then
				}
				b := rng.Int64N(blocks - 1)
				want := [2]uint64{committed[b].Load(), committed[b+1].Load()}
				if _, err := r.d.ReadAt(buf, b*testBS); err != nil {
					errs <- err
					return
				}
				for k := range int64(2) {
					blk := buf[k*testBS : (k+1)*testBS]
					v := binary.LittleEndian.Uint64(blk[8:])
					for o := 0; o < testBS; o += 16 {
						if binary.LittleEndian.Uint64(blk[o:]) != uint64(b+k) && v != 0 ||
							binary.LittleEndian.Uint64(blk[o+8:]) != v {
							errs <- fmt.Errorf("block %d: torn or foreign content at byte %d", b+k, o)
							return
						}
					}
					if v < want[k] {
						errs <- fmt.Errorf("block %d: read version %d after version %d was committed", b+k, v, want[k])
						return
					}
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(9, 9))
	deadline := time.Now().Add(testsize.Pick(300*time.Millisecond, 3*time.Second))
	version := uint64(0)
	for time.Now().Before(deadline) {
		var pieces []blockdev.Piece
		var bs []int64
		for _, b := range rng.Perm(blocks)[:1+rng.IntN(4)] {
			version++
			pieces = append(pieces, blockdev.Piece{Off: int64(b) * testBS, Data: versioned(int64(b), version)})
			bs = append(bs, int64(b))
		}
		require.NoError(t, r.d.CommitSized(pieces, r.d.FileSize(), blocks*testBS, 0))
		for i, b := range bs {
			committed[b].Store(binary.LittleEndian.Uint64(pieces[i].Data[8:]))
		}
		if rng.IntN(3) == 0 {
			require.NoError(t, r.d.Flush())
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	s := r.d.Stats()
	t.Logf("%d records, %d checkpoints (%d images superseded), %d home writes", s.Records, s.Checkpoints, s.Superseded, s.HomeWrites)
	require.Positive(t, s.Checkpoints, "the background must have checkpointed")
}
