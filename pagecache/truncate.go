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
	c.memMu.Lock()
	defer c.memMu.Unlock()
	dropped := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		var ids []int32
		for key, r := range s.regions {
			if (key+1)<<regionShift <= from {
				continue
			}
			for _, slot := range r.slots {
				if slot == 0 {
					continue
				}
				if id := slot - 1; len(ids) == 0 || ids[len(ids)-1] != id {
					ids = append(ids, id)
				}
			}
		}
		var keep []int32
		for _, id := range ids {
			f := &c.folios[id]
			if f.end() <= from || f.state.Load()&stateIndexed == 0 {
				continue
			}
			if f.off < from || f.writers > 0 {
				keep = append(keep, id)
				continue
			}
			if f.has(stateDirty) {
				c.clearDirtyLocked(f)
			}
			s.setLocked(f, -1)
			f.state.Store(0)
			c.unqueueLocked(id)
			c.freeFolioLocked(id)
			dropped++
		}
		s.mu.Unlock()
		for _, id := range keep { // zeros from from on (contentMu comes before shard.mu)
			f := &c.folios[id]
			f.contentMu.Lock()
			clear(c.bytesOf(f)[max(from, f.off)-f.off:])
			f.gen.Store(c.genSeq.Add(1))
			f.contentMu.Unlock()
		}
	}
	if dropped > 0 {
		c.wakeLocked()
	}
	return dropped, nil
}
