package pagecache

import "fmt"

// Truncate drops the cached content at and beyond from (page aligned), as
// when the file is cut there: every folio wholly at or beyond from is
// removed, dirty or not, and the bytes at or beyond from of a folio that
// starts before it are zeroed (it keeps its state). A folio a reservation
// holds (a writer is between Reserve and Commit) is kept, with those bytes
// zeroed, for the writer to commit into. It returns the number of folios
// dropped.
//
// REQUIRES: no folio at or beyond from is under writeback and no reader
// copies from one: the caller excludes writeback passes and readers of
// that range while it truncates.
func (c *Cache) Truncate(from int64) (int, error) {
	if c.closed.Load() {
		return 0, ErrClosed
	}
	if from < 0 || from%PageSize != 0 {
		return 0, fmt.Errorf("truncate at %d: %w", from, ErrInvalid)
	}
	p := c.pool
	p.memMu.Lock()
	defer p.memMu.Unlock()
	dropped := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		var keep []int32
		for _, id := range s.folioIDsLocked(from) {
			f := &c.folios[id]
			if f.end() <= from || f.state.Load()&stateIndexed == 0 {
				continue
			}
			if f.off < from || f.writers > 0 {
				keep = append(keep, id)
				continue
			}
			c.dropLocked(s, id)
			dropped++
		}
		s.mu.Unlock()
		for _, id := range keep { // zeros from from on (contentMu comes before shard.mu)
			f := &c.folios[id]
			f.contentMu.Lock()
			clear(c.bytesOf(f)[max(from, f.off)-f.off:])
			f.gen.Store(p.genSeq.Add(1))
			f.contentMu.Unlock()
		}
	}
	if dropped > 0 {
		p.wakeLocked()
	}
	return dropped, nil
}

// dropLocked removes folio id from the index and frees it, dirty or not.
// REQUIRES: memMu and the folio's shard.mu held for writing.
func (c *Cache) dropLocked(s *shard, id int32) {
	f := &c.folios[id]
	if f.has(stateDirty) {
		c.clearDirtyLocked(f)
	}
	s.setLocked(f, -1)
	f.state.Store(0)
	c.pool.unqueueLocked(id)
	c.pool.freeFolioLocked(id)
}

// Drop removes every folio that overlaps [lo, hi) (page aligned), as
// when the file's content there changed behind the cache. It fails with
// ErrBusy, having dropped nothing, when one of them is dirty, under
// writeback or in use (the caller writes back and excludes readers and
// writers first).
func (c *Cache) Drop(lo, hi int64) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if lo < 0 || hi < lo || lo%PageSize != 0 || hi%PageSize != 0 {
		return fmt.Errorf("drop [%d, %d): %w", lo, hi, ErrInvalid)
	}
	c.pool.memMu.Lock()
	defer c.pool.memMu.Unlock()
	type victim struct {
		s  *shard
		id int32
	}
	var victims []victim
	for pos := lo; pos < hi; {
		s := c.shardOf(pos)
		s.mu.Lock()
		id, ok := s.lookupLocked(pos)
		next := pos + PageSize
		if ok {
			f := &c.folios[id]
			if f.state.Load()&(stateDirty|stateWriteback) != 0 || f.writers > 0 || f.pins.Load() != 0 {
				s.mu.Unlock()
				return fmt.Errorf("drop [%d, %d): folio at %d: %w", lo, hi, f.off, ErrBusy)
			}
			if n := len(victims); n == 0 || victims[n-1].id != id {
				victims = append(victims, victim{s, id})
			}
			next = f.end()
		}
		s.mu.Unlock()
		pos = next
	}
	for _, v := range victims {
		v.s.mu.Lock()
		if c.folios[v.id].state.Load()&stateIndexed != 0 {
			c.dropLocked(v.s, v.id)
		}
		v.s.mu.Unlock()
	}
	if len(victims) > 0 {
		c.pool.wakeLocked()
	}
	return nil
}
