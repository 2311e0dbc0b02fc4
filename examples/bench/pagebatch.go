package main

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/untorn/untorn/blockdev"
)

// pageBatch holds the pages written since the last Sync in one aligned
// slab, in first-write order, one slot per page (a page written twice
// keeps its slot), so that Sync can write them with O_DIRECT.
type pageBatch struct {
	pageSize int
	lead     int    // bytes reserved in front of the first page (a header)
	slab     []byte // lead + capPages*pageSize, MemAlign-aligned
	offs     []int64
	slot     map[int64]int // file offset -> slot
}

func newPageBatch(pageSize, capPages, lead, align int) *pageBatch {
	return &pageBatch{
		pageSize: pageSize,
		lead:     lead,
		slab:     blockdev.AlignedBuffer(lead+capPages*pageSize, max(align, 4096)),
		offs:     make([]int64, 0, capPages),
		slot:     make(map[int64]int, capPages),
	}
}

// checkPage rejects accesses that are not one whole page.
func (b *pageBatch) checkPage(p []byte, off int64) error {
	if len(p) != b.pageSize || off < 0 || off%int64(b.pageSize) != 0 {
		return fmt.Errorf("%w: %d bytes at %d: this contender takes whole %d-byte pages",
			errBadFlag, len(p), off, b.pageSize)
	}
	return nil
}

// put checks that p is one whole page, empties a full batch through
// writeOut, then adds p.
func (b *pageBatch) put(p []byte, off int64, writeOut func() error) error {
	if err := b.checkPage(p, off); err != nil {
		return err
	}
	if b.full() {
		if err := writeOut(); err != nil {
			return err
		}
	}
	b.add(p, off)
	return nil
}

// full reports whether another new page would not fit.
func (b *pageBatch) full() bool { return len(b.offs) == cap(b.offs) }

// add copies p into the page's slot. The caller empties a full batch first
// (see put).
func (b *pageBatch) add(p []byte, off int64) {
	i, ok := b.slot[off]
	if !ok {
		i = len(b.offs)
		b.offs = append(b.offs, off)
		b.slot[off] = i
	}
	copy(b.page(i), p)
}

// lookup returns the pending content of the page at off.
func (b *pageBatch) lookup(off int64) ([]byte, bool) {
	i, ok := b.slot[off]
	if !ok {
		return nil, false
	}
	return b.page(i), true
}

func (b *pageBatch) page(i int) []byte {
	start := b.lead + i*b.pageSize
	return b.slab[start : start+b.pageSize]
}

func (b *pageBatch) len() int { return len(b.offs) }

func (b *pageBatch) reset() {
	b.offs = b.offs[:0]
	clear(b.slot)
}

// writeInPlace writes every page of b at its offset on dev from up to
// writers goroutines and returns the bytes written and the first error.
func (b *pageBatch) writeInPlace(dev blockdev.Device, writers int, flags blockdev.Flags) (int64, error) {
	n := b.len()
	var (
		next, written atomic.Int64
		errOnce       sync.Once
		firstErr      error
		wg            sync.WaitGroup
	)
	for range min(max(writers, 1), n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				k, err := dev.WriteAt(b.page(i), b.offs[i], flags)
				written.Add(int64(k))
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return written.Load(), firstErr
}

// readPage serves a page from the batch or reads it from dev (through
// scratch when p is not aligned for O_DIRECT).
func (b *pageBatch) readPage(dev blockdev.Device, scratch, p []byte, off int64) error {
	if err := b.checkPage(p, off); err != nil {
		return err
	}
	if q, ok := b.lookup(off); ok {
		copy(p, q)
		return nil
	}
	if blockdev.IsAligned(p, dev.Limits().MemAlign) {
		_, err := dev.ReadAt(p, off)
		return err
	}
	if _, err := dev.ReadAt(scratch[:len(p)], off); err != nil {
		return err
	}
	copy(p, scratch)
	return nil
}
