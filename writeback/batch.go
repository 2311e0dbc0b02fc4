package writeback

import (
	"context"
	"fmt"
	"math"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/pagecache"
)

// pendingBatch is a batch that Commit put in the cache and no pass has
// written yet. In COW mode the next pass commits everything dirty that
// overlaps its ranges, and its cut, in one transaction (its super-group).
type pendingBatch struct {
	ranges [][2]int64 // its pieces rounded out to pages, ascending, disjoint
	cut    int64      // the file was cut here first (-1: not cut)
	size   int64      // the size it set (-1: it only grows the file to cover its pieces)
}

// overlaps reports whether [lo, hi) shares a byte with one of b's ranges.
func (b *pendingBatch) overlaps(lo, hi int64) bool {
	for _, r := range b.ranges {
		if lo < r[1] && r[0] < hi {
			return true
		}
	}
	return false
}

// pendingOverlapLocked reports whether [lo, hi) overlaps a pending batch's
// ranges or lies at or beyond its cut.
// REQUIRES: e.mu held.
func (e *Engine) pendingOverlapLocked(lo, hi int64) bool {
	for _, b := range e.batches {
		if b.overlaps(lo, hi) || (b.cut >= 0 && hi > b.cut) {
			return true
		}
	}
	return false
}

// Commit puts a batch in the cache: pieces (disjoint, in ascending order,
// any alignment) after the file was cut to cut bytes (cut < 0: no cut),
// leaving the file size at size (size < 0: the size only grows to cover
// the pieces, as with writes; without a cut a size never shrinks the file:
// a concurrent write past it keeps its extension). With a size the pieces
// must lie below it rounded up to a page (the zeros past a cut inside a
// page); a cut is at most size.
//
// In COW mode (a blockdev.SizedDevice) the next pass writes the batch,
// together with everything dirty that overlaps it, as one transaction, so
// after a crash all of it is on the device or none. A later write that
// overlaps a pending batch (or lies at or beyond its cut) first writes the
// batch back, and so does a Commit that overlaps one. In native mode a
// batch becomes one untorn unit: the naturally aligned power of two
// covering all its pieces, which must not exceed MaxUnit (ErrTooLarge),
// and it cannot cut or grow the file (ErrInvalid: the caller changes the
// size of a native file itself).
//
// All of the batch reaches the cache or none of it (an error wrapping
// pagecache.ErrNoMemory when memory does not come before ctx is done).
// A COW batch of more than MaxCachedBatch bytes of pages is written
// through instead (see commitThrough), up to MaxThroughBatch (ErrTooLarge
// beyond). The caller excludes reads and writes of the range it cuts, and
// all reads and writes for a batch written through, while Commit runs.
func (e *Engine) Commit(ctx context.Context, pieces []blockdev.Piece, cut, size int64) error {
	if e.closed.Load() {
		return ErrClosed
	}
	pieces = nonEmpty(pieces)
	ranges, bytes, err := e.checkBatch(pieces, cut, size)
	if err != nil {
		return err
	}
	if len(ranges) == 0 && cut < 0 && e.sized != nil {
		// A size that only grows: the pass's last transaction sets it.
		e.mu.Lock()
		e.size.Store(max(e.size.Load(), size))
		e.changedLocked()
		e.mu.Unlock()
		return nil
	}
	if cut >= 0 && size < 0 {
		return fmt.Errorf("%w: a cut needs a size", ErrInvalid)
	}
	if e.batch == nil {
		return e.commitNative(ctx, pieces, ranges)
	}
	if e.sized == nil {
		// Only a pass over a SizedDevice writes a batch whole.
		return fmt.Errorf("%w: batches need a device that keeps the file size (blockdev.SizedDevice)", ErrInvalid)
	}
	if bytes > e.MaxCachedBatch() {
		return e.commitThrough(pieces, ranges, bytes, cut, size)
	}
	for {
		// A batch never overlaps one still pending: write that back first.
		e.mu.Lock()
		busy := e.batchOverlapsLocked(ranges, cut)
		e.mu.Unlock()
		if busy {
			if err := e.writeAll(); err != nil {
				return err
			}
			continue
		}
		rs, err := e.reserveAll(ctx, pieces, cut)
		if err != nil {
			return err
		}
		if cut >= 0 {
			e.passMu.Lock() // no pass is writing what the cut drops
		}
		e.mu.Lock()
		if e.batchOverlapsLocked(ranges, cut) { // one was committed meanwhile
			e.mu.Unlock()
			if cut >= 0 {
				e.passMu.Unlock()
			}
			releaseAll(rs)
			continue
		}
		err = e.applyLocked(rs, pieces, ranges, cut, size)
		e.mu.Unlock()
		if cut >= 0 {
			e.passMu.Unlock()
		}
		return err
	}
}

// MaxCachedBatch is the most bytes of pages a COW batch may hold and go
// through the cache: half of it.
func (e *Engine) MaxCachedBatch() int64 { return e.cache.Budget() / 2 }

// checkBatch validates a batch (pieces without data left out: see
// nonEmpty) and returns its page ranges and their bytes.
func (e *Engine) checkBatch(pieces []blockdev.Piece, cut, size int64) ([][2]int64, int64, error) {
	if size > e.dev.Size() || cut > size {
		return nil, 0, fmt.Errorf("%w: cut %d, size %d on a device of %d bytes", ErrInvalid, cut, size, e.dev.Size())
	}
	var ranges [][2]int64
	var bytes int64
	end := int64(-1)
	for _, p := range pieces {
		pend := p.Off + int64(len(p.Data))
		if p.Off < 0 || p.Off < end || pend > e.dev.Size() || size >= 0 && pend > ceilTo(size, pagecache.PageSize) {
			return nil, 0, fmt.Errorf("%w: piece [%d, %d) out of order or past the size %d", ErrInvalid, p.Off, pend, size)
		}
		end = pend
		lo, hi := floorTo(p.Off, pagecache.PageSize), ceilTo(pend, pagecache.PageSize)
		if n := len(ranges); n > 0 && ranges[n-1][1] >= lo {
			bytes += hi - max(lo, ranges[n-1][1])
			ranges[n-1][1] = max(ranges[n-1][1], hi)
			continue
		}
		ranges = append(ranges, [2]int64{lo, hi})
		bytes += hi - lo
	}
	return ranges, bytes, nil
}

// batchOverlapsLocked reports whether a batch of ranges cut at cut meets a
// pending batch.
// REQUIRES: e.mu held.
func (e *Engine) batchOverlapsLocked(ranges [][2]int64, cut int64) bool {
	if cut >= 0 && e.pendingOverlapLocked(cut, math.MaxInt64) {
		return true
	}
	for _, r := range ranges {
		if e.pendingOverlapLocked(r[0], r[1]) {
			return true
		}
	}
	return false
}

// reserveAll reserves the cache for every piece, in order; pages at or
// beyond cut are filled with zeros, not read.
func (e *Engine) reserveAll(ctx context.Context, pieces []blockdev.Piece, cut int64) ([]*pagecache.Reservation, error) {
	fill := e.fillFn
	if cut >= 0 {
		fill = func(off int64, buf []byte) error {
			if err := e.fill(off, buf); err != nil {
				return err
			}
			if end := off + int64(len(buf)); end > cut {
				clear(buf[max(cut-off, 0):])
			}
			return nil
		}
	}
	rs := make([]*pagecache.Reservation, 0, len(pieces))
	for _, p := range pieces {
		r, err := e.cache.Reserve(ctx, p.Off, len(p.Data), fill)
		if err != nil {
			releaseAll(rs)
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func releaseAll(rs []*pagecache.Reservation) {
	for _, r := range rs {
		r.Release()
	}
}

// applyLocked cuts the cache and the side-car, copies the pieces in and
// records the batch (COW mode).
// REQUIRES: e.mu held; with cut >= 0 also e.passMu.
func (e *Engine) applyLocked(rs []*pagecache.Reservation, pieces []blockdev.Piece, ranges [][2]int64, cut, size int64) error {
	if cut >= 0 {
		if err := e.cutCacheLocked(cut); err != nil {
			releaseAll(rs)
			return err
		}
		for end := range e.writeEnds {
			if end > cut {
				delete(e.writeEnds, end) // their writes are cut away
			}
		}
		e.staleFrom.Store(min(e.staleFrom.Load(), ceilTo(cut, pagecache.PageSize)))
	}
	var err error
	for i, p := range pieces {
		if cerr := rs[i].Commit(p.Data); cerr != nil && err == nil {
			err = cerr
		}
		if end := p.Off + int64(len(p.Data)); size < 0 || end <= size {
			e.markEndLocked(end) // not the zeros past a cut inside a page
		}
	}
	e.batches = append(e.batches, &pendingBatch{ranges: ranges, cut: cut, size: size})
	if cut >= 0 {
		e.size.Store(size)
	} else if n := len(ranges); n > 0 {
		e.size.Store(max(e.size.Load(), size, pieces[len(pieces)-1].Off+int64(len(pieces[len(pieces)-1].Data))))
	}
	e.stats.batchCommits.Add(1)
	e.changedLocked()
	return err
}

// commitNative records a batch as one untorn unit covering all its pieces.
func (e *Engine) commitNative(ctx context.Context, pieces []blockdev.Piece, ranges [][2]int64) error {
	if len(ranges) == 0 {
		return nil
	}
	lo, hi := e.unitOf(ranges[0][0], ranges[len(ranges)-1][1])
	if hi-lo > e.maxUnit || hi > e.dev.Size() {
		return fmt.Errorf("%w: the batch spans [%d, %d), which needs a unit of %d bytes at %d, the limit is %d",
			ErrTooLarge, ranges[0][0], ranges[len(ranges)-1][1], hi-lo, lo, e.maxUnit)
	}
	for {
		rs, err := e.reserveAll(ctx, pieces, -1)
		if err != nil {
			return err
		}
		e.mu.Lock()
		u, _, err := e.unionLocked(lo, hi)
		if err == nil && u.Len() <= e.maxUnit {
			for i, p := range pieces {
				if cerr := rs[i].Commit(p.Data); cerr != nil && err == nil {
					err = cerr
				}
			}
			if err == nil {
				_, err = e.ranges.Add(u.Off, u.End)
			}
			e.stats.batchCommits.Add(1)
			e.changedLocked()
			e.mu.Unlock()
			return err
		}
		e.mu.Unlock()
		releaseAll(rs)
		if err != nil {
			return err
		}
		e.stats.forced.Add(1)
		if err := e.writeAll(); err != nil {
			return err
		}
	}
}

// nonEmpty returns the pieces that hold data.
func nonEmpty(pieces []blockdev.Piece) []blockdev.Piece {
	out := pieces[:0:0]
	for _, p := range pieces {
		if len(p.Data) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// Cut writes everything dirty back, then drops the cache at and beyond
// from (rounded up to a page) and sets the size to from, with no pass
// running: native mode, where the caller then cuts the file itself
// (ftruncate). Writing back first means no untorn unit is clipped (a
// clipped unit would no longer be a power of two). The caller excludes
// reads and writes while it runs.
func (e *Engine) Cut(from int64) error {
	if e.sized != nil || from < 0 {
		return fmt.Errorf("%w: Cut(%d) on this device", ErrInvalid, from)
	}
	if err := e.writeAll(); err != nil {
		return err
	}
	e.passMu.Lock()
	defer e.passMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.cutCacheLocked(from); err != nil {
		return err
	}
	e.size.Store(from)
	e.changedLocked()
	return nil
}

// cutCacheLocked drops the cache and the side-car at and beyond cut
// rounded up to a page (the page holding cut keeps its bytes before it),
// and keeps a read in flight from filling the cache with what they held.
// REQUIRES: e.mu held and no pass running (e.passMu held or excluded).
func (e *Engine) cutCacheLocked(cut int64) error {
	from := ceilTo(cut, pagecache.PageSize)
	if _, err := e.cache.Truncate(from); err != nil {
		return err
	}
	if err := e.ranges.Truncate(from); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	e.ends++
	return nil
}
