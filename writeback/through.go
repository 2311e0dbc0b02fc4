package writeback

import (
	"fmt"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/pagecache"
)

// MaxThroughBatch is the largest batch Commit takes in COW mode (one
// larger than half the cache is written through, staged in memory whole).
const MaxThroughBatch = 1 << 30

// commitThrough writes a batch too large for the cache (Commit passes it
// on: see there for pieces, ranges, cut and size) straight to the device
// as one transaction: after a crash all of it is there or none. It first
// writes back everything dirty and flushes (so nothing written before it
// can land after it), then builds the batch's pages (the parts of pages
// its pieces do not cover read from the device), commits them with the
// cut and the size, and drops the cache's copies of those pages. The
// transaction is durable with the next Sync, like any write. It stages
// the whole batch in memory, at most MaxThroughBatch.
func (e *Engine) commitThrough(pieces []blockdev.Piece, ranges [][2]int64, bytes, cut, size int64) error {
	if bytes > MaxThroughBatch {
		return fmt.Errorf("%w: a batch of %d bytes of pages, at most %d", ErrTooLarge, bytes, MaxThroughBatch)
	}
	for {
		if err := e.writeAll(); err != nil {
			return err
		}
		e.passMu.Lock()
		e.mu.Lock()
		if e.cache.DirtyBytes() == 0 && len(e.batches) == 0 && e.ranges.Len() == 0 {
			err := e.commitThroughLocked(pieces, ranges, cut, size)
			e.mu.Unlock()
			e.passMu.Unlock()
			return err
		}
		e.mu.Unlock() // a writer slipped in before the exclusion: again
		e.passMu.Unlock()
	}
}

// commitThroughLocked is commitThrough once nothing is dirty.
// REQUIRES: e.passMu and e.mu held, nothing dirty or pending.
func (e *Engine) commitThroughLocked(pieces []blockdev.Piece, ranges [][2]int64, cut, size int64) error {
	dev := e.sized.FileSize()
	pages := make([]blockdev.Piece, 0, len(ranges))
	for _, r := range ranges {
		buf := blockdev.AlignedBuffer(int(r[1]-r[0]), max(e.lim.MemAlign, 1))
		if err := e.fillGapsLocked(buf, r[0], pieces); err != nil {
			return err
		}
		if cut >= 0 && r[1] > cut {
			clear(buf[max(cut-r[0], 0):])
		}
		for _, p := range pieces {
			if end := p.Off + int64(len(p.Data)); p.Off < r[1] && end > r[0] {
				copy(buf[p.Off-r[0]:], p.Data)
			}
		}
		pages = append(pages, blockdev.Piece{Off: r[0], Data: buf})
	}
	newSize := size
	if newSize < 0 {
		newSize = max(e.size.Load(), dev)
		if n := len(pieces); n > 0 {
			newSize = max(newSize, pieces[n-1].Off+int64(len(pieces[n-1].Data)))
		}
	}
	c := cut
	if c < 0 {
		c = dev
	}
	if err := e.commitSuper(&superGroup{pieces: pages}, c, newSize); err != nil {
		return fmt.Errorf("writeback: batch commit: %w", err)
	}
	e.countCommit(pages)
	e.stats.batchCommits.Add(1)
	e.stats.throughCommits.Add(1)
	e.needFlush = true
	// The cache's copies of those pages (clean: everything was written
	// back) are stale now; so is everything past a cut.
	for _, r := range ranges {
		if err := e.cache.Drop(r[0], r[1]); err != nil {
			return err
		}
	}
	if cut >= 0 {
		if err := e.cutCacheLocked(cut); err != nil {
			return err
		}
	}
	e.ends++ // a read in flight must not fill the cache with what was there
	e.size.Store(newSize)
	e.devSize = newSize
	e.changedLocked()
	return nil
}

// fillGapsLocked reads into buf (the pages from off on) the pages that
// pieces do not cover whole.
// REQUIRES: e.mu held.
func (e *Engine) fillGapsLocked(buf []byte, off int64, pieces []blockdev.Piece) error {
	for pg := int64(0); pg < int64(len(buf)); pg += pagecache.PageSize {
		lo, hi := off+pg, off+pg+pagecache.PageSize
		covered := int64(0)
		for _, p := range pieces {
			covered += max(0, min(hi, p.Off+int64(len(p.Data)))-max(lo, p.Off))
		}
		if covered == pagecache.PageSize {
			continue
		}
		if err := e.ReadDevice(buf[pg:pg+pagecache.PageSize], lo); err != nil {
			return fmt.Errorf("writeback: read around the batch at %d: %w", lo, err)
		}
	}
	return nil
}
