package cow

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
)

// TestConcurrentUse runs batch writers on disjoint halves, large readers
// (which defragment) and flushers at once on a small device that cleans
// and checkpoints all the time. Every block read must hold what some write
// put there, and each writer must read its own last batch back.
func TestConcurrentUse(t *testing.T) {
	mem := newSmallMem(t)
	d, err := Format(mem, smallOptions)
	require.NoError(t, err)
	checkOnCleanup(t, d)
	bs := int64(d.Limits().BlockSize)
	n := d.Size() / bs
	rounds := 150
	if raceEnabled {
		rounds = 60
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range int64(2) {
		wg.Go(func() {
			half := n / 2
			for r := range rounds {
				id := uint64(w*100000 + int64(r) + 1)
				var pieces []blockdev.Piece
				for b := w*half + int64(r%3); b < (w+1)*half; b += 3 {
					p := blockdev.Piece{Off: b * bs, Data: make([]byte, bs)}
					crashmodel.Fill(p.Data, id, p.Off)
					pieces = append(pieces, p)
				}
				if err := d.CommitBatch(pieces, 0); err != nil {
					errs <- err
					return
				}
				buf := blockdev.AlignedBuffer(int(bs), 512)
				if _, err := d.ReadAt(buf, pieces[0].Off); err != nil {
					errs <- err
					return
				}
				if got := crashmodel.WordID(binary.LittleEndian.Uint64(buf)); got != id {
					t.Errorf("writer %d read write %d back, want %d", w, got, id)
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			buf := blockdev.AlignedBuffer(int(n*bs), 512)
			for range rounds / 2 {
				if _, err := d.ReadAt(buf, 0); err != nil {
					errs <- err
					return
				}
				for b := range n {
					w := binary.LittleEndian.Uint64(buf[b*bs:])
					want := make([]byte, bs)
					if id := crashmodel.WordID(w); id != 0 {
						crashmodel.Fill(want, id, b*bs)
					}
					if string(want) != string(buf[b*bs:(b+1)*bs]) {
						t.Errorf("block %d holds data nobody wrote", b)
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range rounds / 4 {
			if err := d.Flush(); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := d.Stats()
	t.Logf("commits %d, cleaned %d blocks, defragmented %d blocks, %d checkpoints", st.Commits, st.CleanedBlocks, st.DefragBlocks, st.Checkpoints)
}
