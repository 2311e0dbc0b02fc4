package pagecache

import (
	"context"
	"fmt"
	"math"
)

// FillFunc reads the current content of the file range [off, off+len(buf)) into buf.
// Reserve calls it for a folio that a write covers only partly and that holds no valid
// bytes yet, so the bytes the write leaves alone are right. The cache itself does no I/O.
type FillFunc func(off int64, buf []byte) error

// Reservation holds every folio covering a write's range until Commit copies the bytes
// into them or Release gives them back. A Reservation is used by one goroutine.
type Reservation struct {
	c      *Cache
	off    int64
	n      int64
	ids    []int32 // folios in offset order, each pinned with writers incremented
	made   []bool  // per folio: created by this reservation
	done   bool
	pooled bool // returned to Cache.reservations when done
}

// Off and Len give the reserved byte range.
func (r *Reservation) Off() int64 { return r.off }
func (r *Reservation) Len() int64 { return r.n }

// Reserve obtains every folio covering [off, off+n) before any byte is copied. Folios that
// the range covers only partly and that hold no valid bytes are filled with fill (zeros when
// fill is nil). A folio under writeback is replaced by a private copy, so Commit never
// touches bytes being written. When the dirty bytes exceed the hard threshold, or memory is
// short, Reserve waits for writeback or reclaim until ctx is done and then fails with an
// error wrapping ErrNoMemory, having changed nothing. A range that can never fit fails at
// once with ErrTooLarge.
//
// Reservations are pooled: r must not be used after Commit or Release.
func (c *Cache) Reserve(ctx context.Context, off int64, n int, fill FillFunc) (*Reservation, error) {
	r := c.reservations.Get().(*Reservation)
	if err := c.reserve(ctx, r, off, n, fill); err != nil {
		return nil, err
	}
	return r, nil
}

// reserve fills r (empty) as Reserve describes; on error r is finished.
func (c *Cache) reserve(ctx context.Context, r *Reservation, off int64, n int, fill FillFunc) error {
	r.off, r.n, r.done = off, int64(n), false
	if c.closed.Load() {
		r.finish()
		return ErrClosed
	}
	if off < 0 || n <= 0 || off > math.MaxInt64-int64(n)-2*PageSize {
		r.finish()
		return fmt.Errorf("reserve %d bytes at %d: %w", n, off, ErrInvalid)
	}
	lo, hi := floorPage(off), ceilPage(off+int64(n))
	if hi-lo > c.mem.size() {
		r.finish()
		return fmt.Errorf("reserve %d bytes at %d: %w", n, off, ErrTooLarge)
	}
	if err := c.throttle(ctx); err != nil {
		r.finish()
		return err
	}
	for pos := lo; pos < hi; {
		id, err := c.reserveAt(ctx, r, pos, lo, hi)
		if err != nil {
			r.Release()
			return fmt.Errorf("reserve %d bytes at %d: %w", n, off, err)
		}
		pos = c.folios[id].end()
	}
	for _, id := range r.ids {
		f := &c.folios[id]
		if f.has(stateUptodate) || (f.off >= off && f.end() <= off+int64(n)) {
			continue
		}
		if err := c.fillFolio(f, fill); err != nil {
			r.Release()
			return fmt.Errorf("reserve %d bytes at %d: fill %d: %w", n, off, f.off, err)
		}
	}
	return nil
}

// throttle waits while the pool's dirty bytes exceed the hard threshold and this cache
// holds at least its share of them (see Pool).
func (c *Cache) throttle(ctx context.Context) error {
	p := c.pool
	for p.overHard(c) {
		p.memMu.Lock()
		p.kickDirtyLocked()
		ch := p.waitChLocked()
		p.memMu.Unlock()
		if !p.overHard(c) {
			return nil
		}
		if err := waitFor(ctx, ch); err != nil {
			return fmt.Errorf("dirty bytes over the hard threshold: %w: %w", ErrNoMemory, err)
		}
	}
	return nil
}

// reserveAt pins the folio covering pos for writing, creating it (or a copy of a folio
// under writeback) when needed, and appends it to r. [lo, hi) is the reservation's range
// in whole pages.
func (c *Cache) reserveAt(ctx context.Context, r *Reservation, pos, lo, hi int64) (int32, error) {
	s := c.shardOf(pos)
	for {
		s.mu.Lock()
		if id, ok := c.pinForWriteLocked(s, pos, lo, hi); ok {
			s.mu.Unlock()
			r.ids, r.made = append(r.ids, id), append(r.made, false)
			return id, nil
		}
		s.mu.Unlock()

		// Slow path: every insertion into the index happens under memMu, so while it is
		// held the index can only lose clean unused folios.
		p := c.pool
		p.memMu.Lock()
		if c.closed.Load() {
			p.memMu.Unlock()
			return 0, ErrClosed
		}
		s.mu.Lock()
		if id, ok := s.lookupLocked(pos); ok && c.splittable(&c.folios[id], lo, hi) {
			// A clean folio the write covers only partly: dirtying it would make
			// writeback write all of it. Drop it (the device holds its bytes) and
			// let the write get folios of its own size.
			s.mu.Unlock()
			p.unqueueLocked(id)
			if !p.tryEvictLocked(id) {
				p.pushLocked(id, queueMain)
			}
			s.mu.Lock()
		}
		if id, ok := c.pinForWriteLocked(s, pos, -1, -1); ok {
			s.mu.Unlock()
			p.memMu.Unlock()
			r.ids, r.made = append(r.ids, id), append(r.made, false)
			return id, nil
		}
		oldID, replacing := s.lookupLocked(pos) // present only when under writeback
		var order int
		if replacing {
			order = int(c.folios[oldID].order)
		} else {
			order = s.chooseOrderLocked(pos, hi, c.mem.topOrder)
		}
		s.mu.Unlock()
		id, ok := p.newFolioLocked(c, order)
		if !ok {
			ch := p.waitChLocked()
			p.kickDirtyLocked()
			p.memMu.Unlock()
			if err := waitFor(ctx, ch); err != nil {
				return 0, fmt.Errorf("%w: %w", ErrNoMemory, err)
			}
			continue
		}
		f := &c.folios[id]
		f.writers = 1
		f.pins.Store(1)
		s.mu.Lock()
		if replacing {
			// The old folio is under writeback (EndWriteback needs memMu): its bytes are stable.
			old := &c.folios[oldID]
			copy(c.bytesOf(f), c.bytesOf(old))
			f.off = old.off
			f.state.Store(stateIndexed | stateUptodate | stateDirty)
			s.replaceLocked(old, id)
			old.state.Store(old.state.Load()&^stateIndexed | stateDetached)
			s.mu.Unlock()
			p.unqueueLocked(oldID)
			p.pushLocked(id, queueMain)
		} else {
			f.off = pos
			f.state.Store(stateIndexed)
			s.setLocked(f, id)
			s.mu.Unlock()
			p.enqueueNewLocked(id)
		}
		p.memMu.Unlock()
		r.ids, r.made = append(r.ids, id), append(r.made, !replacing)
		return id, nil
	}
}

// pinForWriteLocked pins the folio covering pos for writing unless it is missing, under
// writeback, or (when lo >= 0) splittable for a write of [lo, hi).
// REQUIRES: s.mu held for writing.
func (c *Cache) pinForWriteLocked(s *shard, pos, lo, hi int64) (int32, bool) {
	id, ok := s.lookupLocked(pos)
	if !ok || c.folios[id].has(stateWriteback) || (lo >= 0 && c.splittable(&c.folios[id], lo, hi)) {
		return 0, false
	}
	f := &c.folios[id]
	f.writers++
	f.pins.Add(1)
	return id, true
}

// splittable reports whether f is a clean folio of several pages that a write of the
// whole pages [lo, hi) covers only partly, and that nobody uses.
// REQUIRES: the shard.mu of f held.
func (c *Cache) splittable(f *folio, lo, hi int64) bool {
	st := f.state.Load()
	return f.order > 0 && (f.off < lo || f.end() > hi) &&
		st&(stateDirty|stateWriteback) == 0 && st&stateIndexed != 0 &&
		f.writers == 0 && f.pins.Load() == 0
}

// fillFolio makes a reserved folio uptodate with fill (zeros when fill is nil).
func (c *Cache) fillFolio(f *folio, fill FillFunc) error {
	f.contentMu.Lock()
	defer f.contentMu.Unlock()
	if f.has(stateUptodate) {
		return nil
	}
	buf := c.bytesOf(f)
	if fill == nil {
		clear(buf)
	} else if err := fill(f.off, buf); err != nil {
		return err
	}
	f.state.Or(stateUptodate)
	return nil
}

// Commit copies p (exactly Len bytes) into the reserved folios, marks them uptodate and
// dirty with new generations, and ends the reservation.
func (r *Reservation) Commit(p []byte) error {
	if r.done {
		return fmt.Errorf("commit of a finished reservation: %w", ErrInvalid)
	}
	if int64(len(p)) != r.n {
		return fmt.Errorf("commit of %d bytes into a reservation of %d: %w", len(p), r.n, ErrInvalid)
	}
	c := r.c
	end := r.off + r.n
	for _, id := range r.ids {
		f := &c.folios[id]
		lo, hi := max(f.off, r.off), min(f.end(), end)
		f.contentMu.Lock()
		copy(c.bytesOf(f)[lo-f.off:hi-f.off], p[lo-r.off:hi-r.off])
		s := c.shardOf(f.off)
		s.mu.Lock()
		f.gen.Store(c.pool.genSeq.Add(1))
		if !f.has(stateDirty) {
			c.markDirtyLocked(f)
		}
		f.state.Or(stateUptodate | stateDirty)
		f.writers--
		s.mu.Unlock()
		f.contentMu.Unlock()
		f.touch()
		f.pins.Add(-1)
	}
	r.finish()
	if c.pool.dirtyBytes.Load() > c.pool.background.Load() {
		c.kickWriteback()
	}
	return nil
}

// Release gives the folios back without writing; folios the reservation created that
// hold no valid bytes are removed. Release after Commit or Release does nothing.
func (r *Reservation) Release() {
	if r.done {
		return
	}
	c := r.c
	p := c.pool
	p.memMu.Lock()
	for i, id := range r.ids {
		f := &c.folios[id]
		s := c.shardOf(f.off)
		s.mu.Lock()
		f.writers--
		f.pins.Add(-1)
		if r.made[i] && f.writers == 0 && f.pins.Load() == 0 && f.state.Load() == stateIndexed {
			s.setLocked(f, -1)
			f.state.Store(0)
			s.mu.Unlock()
			p.unqueueLocked(id)
			p.freeFolioLocked(id)
			continue
		}
		s.mu.Unlock()
	}
	p.wakeLocked()
	p.memMu.Unlock()
	r.finish()
}

func (r *Reservation) finish() {
	r.done = true
	r.ids, r.made = r.ids[:0], r.made[:0]
	if r.pooled {
		r.c.reservations.Put(r)
	}
}

// Write reserves every folio covering [off, off+len(p)), then copies p into them and marks
// them dirty: all of p or nothing. See Reserve for waiting, fill and errors.
func (c *Cache) Write(ctx context.Context, p []byte, off int64, fill FillFunc) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r := c.reservations.Get().(*Reservation)
	if err := c.reserve(ctx, r, off, len(p), fill); err != nil {
		return 0, err
	}
	if err := r.Commit(p); err != nil {
		r.Release()
		return 0, err
	}
	return len(p), nil
}
