package writeback

import (
	"context"
	"fmt"

	"github.com/untorn/untorn/pagecache"
)

// Write copies p into the cache at off, all of it or nothing, and marks it
// dirty. With untorn, the range is recorded in the side-car so that
// writeback puts it on the device whole or not at all; if its union with
// the dirty units it overlaps would be too large for the device path, those
// are written back first. It waits for memory until ctx is done, then fails
// with an error wrapping pagecache.ErrNoMemory having changed nothing.
// The caller has checked that [off, off+len(p)) lies within the device.
func (e *Engine) Write(ctx context.Context, p []byte, off int64, untorn bool) error {
	if e.closed.Load() {
		return ErrClosed
	}
	if len(p) == 0 {
		return nil
	}
	end := off + int64(len(p))
	var lo, hi int64
	if untorn {
		lo, hi = e.unitOf(off, end)
		if hi-lo > e.maxUnit || hi > e.dev.Size() {
			return fmt.Errorf("%w: [%d, %d) needs a unit of %d bytes at %d, the limit is %d",
				ErrTooLarge, off, end, hi-lo, lo, e.maxUnit)
		}
	}
	for {
		r, err := e.cache.Reserve(ctx, off, len(p), e.fillFn)
		if err != nil {
			return err
		}
		e.mu.Lock()
		if len(e.batches) > 0 && e.pendingOverlapLocked(floorTo(off, pagecache.PageSize), max(ceilTo(end, pagecache.PageSize), hi)) {
			// A batch not yet written back is under this write: it goes
			// first, alone (see Commit).
			e.mu.Unlock()
			r.Release()
			if err := e.writeAll(); err != nil {
				return err
			}
			continue
		}
		if end > e.size.Load() {
			e.size.Store(end)
		}
		e.markEndLocked(end)
		e.changedLocked()
		if !untorn {
			err = r.Commit(p)
			e.mu.Unlock()
			return err
		}
		if u, ok := e.ranges.Get(lo); ok && hi <= u.End {
			// The common rewrite: inside one dirty unit, which needs at
			// most a new generation (not a union and an Add), and none
			// while no pass has it in its snapshot.
			if err = r.Commit(p); err == nil {
				e.stats.merges.Add(1)
				if u.Gen <= e.snapGen {
					if _, ok := e.ranges.Touch(u); !ok { // cannot happen under mu; Add is always right
						_, err = e.ranges.Add(lo, hi)
					}
				}
				e.stats.untorn.Add(1)
			}
			e.mu.Unlock()
			return err
		}
		u, merged, err := e.unionLocked(lo, hi)
		if err == nil && u.Len() <= e.maxUnit {
			if err = r.Commit(p); err == nil {
				if merged > 0 {
					e.stats.merges.Add(1)
				}
				_, err = e.ranges.Add(u.Off, u.End)
				e.stats.untorn.Add(1)
			}
			e.mu.Unlock()
			return err
		}
		e.mu.Unlock()
		r.Release()
		if err != nil {
			return err
		}
		// The union is too large: write the dirty units back first, then
		// this write forms a unit of its own.
		e.stats.forced.Add(1)
		if err := e.writeAll(); err != nil {
			return err
		}
	}
}

// fill reads the device content of a folio that a write covers only partly.
func (e *Engine) fill(off int64, buf []byte) error {
	n := min(int64(len(buf)), e.dev.Size()-off)
	if n <= 0 {
		clear(buf)
		return nil
	}
	if err := e.ReadDevice(buf[:n], off); err != nil {
		return fmt.Errorf("writeback: read for a partial write: %w", err)
	}
	clear(buf[n:])
	return nil
}

// ReadDevice reads [off, off+len(buf)) from the device into buf, which
// must be aligned for the device; off and len(buf) are multiples of the
// device's block size. What lies at or beyond a cut not yet written back
// reads as zeros.
func (e *Engine) ReadDevice(buf []byte, off int64) error {
	stale := e.staleFrom.Load()
	if off >= stale {
		clear(buf)
		return nil
	}
	_, err := e.dev.ReadAt(buf, off)
	if end := off + int64(len(buf)); err == nil && end > stale {
		clear(buf[stale-off:])
	}
	return err
}

// readThroughLocked fills buf with the current content of
// [off, off+len(buf)): cached folios where there are, the device
// elsewhere. buf and off are page aligned (so is every gap the cache
// reports, hence aligned for the device: see New).
// REQUIRES: e.mu held (so no commit changes the folios meanwhile).
func (e *Engine) readThroughLocked(buf []byte, off int64) error {
	done := 0
	for done < len(buf) {
		n, gap, err := e.cache.Read(buf[done:], off+int64(done))
		if err != nil {
			return err
		}
		done += n
		if done == len(buf) {
			break
		}
		// gap starts at off+done, page aligned since buf and off are.
		glen := min(gap.Len, int64(len(buf)-done))
		if _, err := e.dev.ReadAt(buf[done:done+int(glen)], off+int64(done)); err != nil {
			return err
		}
		done += int(glen)
	}
	return nil
}
