package pagecache

import "fmt"

// Writeback is a stable view of one dirty folio handed to the writeback engine. Data is
// not modified and stays mapped until EndWriteback is called with the Writeback.
type Writeback struct {
	Off   int64
	Gen   uint64 // the folio's generation when the writeback started
	Data  []byte // the folio's bytes; PageSize aligned; len is the folio size
	id    int32
	token uint64
}

// StartWriteback marks the dirty folio covering off as under writeback and returns a
// stable view of its bytes. It fails with ErrNotDirty when no dirty folio covers off and
// with ErrBusy when the folio is already under writeback or reserved by a writer.
func (c *Cache) StartWriteback(off int64) (Writeback, error) {
	if c.closed.Load() {
		return Writeback{}, ErrClosed
	}
	if off < 0 {
		return Writeback{}, fmt.Errorf("writeback at %d: %w", off, ErrInvalid)
	}
	s := c.shardOf(off)
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.lookupLocked(off)
	if !ok || !c.folios[id].has(stateDirty) {
		return Writeback{}, fmt.Errorf("writeback at %d: %w", off, ErrNotDirty)
	}
	f := &c.folios[id]
	if f.has(stateWriteback) || f.writers > 0 {
		return Writeback{}, fmt.Errorf("writeback at %d: %w", off, ErrBusy)
	}
	f.wbToken = c.pool.wbSeq.Add(1)
	f.state.Or(stateWriteback)
	return Writeback{Off: f.off, Gen: f.gen.Load(), Data: c.bytesOf(f), id: id, token: f.wbToken}, nil
}

// EndWriteback ends a writeback. With err == nil and the folio unchanged since
// StartWriteback (same generation, still in the index) the folio becomes clean; otherwise
// it stays dirty. A folio replaced by a copy meanwhile is freed: the copy carries its data.
// It fails with ErrInvalid for a Writeback already ended or not from this cache.
func (c *Cache) EndWriteback(wb Writeback, err error) error {
	if wb.token == 0 || wb.id < 0 || int(wb.id) >= len(c.folios) {
		return fmt.Errorf("end writeback at %d: %w", wb.Off, ErrInvalid)
	}
	p := c.pool
	p.memMu.Lock()
	defer p.memMu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	f := &c.folios[wb.id]
	if f.owner != c {
		return fmt.Errorf("end writeback at %d of another cache: %w", wb.Off, ErrInvalid)
	}
	if st := f.state.Load(); st&stateDetached != 0 {
		if f.wbToken != wb.token || st&stateWriteback == 0 {
			return fmt.Errorf("end writeback at %d: %w", wb.Off, ErrInvalid)
		}
		p.freeFolioLocked(wb.id)
		p.wakeLocked()
		return nil
	}
	s := c.shardOf(f.off)
	s.mu.Lock()
	st := f.state.Load()
	if st&stateIndexed == 0 || st&stateWriteback == 0 || f.wbToken != wb.token {
		s.mu.Unlock()
		return fmt.Errorf("end writeback at %d: %w", wb.Off, ErrInvalid)
	}
	f.wbToken = 0
	clean := err == nil && f.gen.Load() == wb.Gen
	if clean {
		c.clearDirtyLocked(f)
		f.state.And(^(stateDirty | stateWriteback))
	} else {
		f.state.And(^stateWriteback)
	}
	s.mu.Unlock()
	if clean {
		p.evictIfBeyondLocked(wb.id)
		p.wakeLocked()
	}
	return nil
}

// markDirtyLocked accounts a folio that becomes dirty, in its cache and its pool.
// REQUIRES: shard.mu of f held for writing, f indexed and not dirty.
func (c *Cache) markDirtyLocked(f *folio) {
	c.dirtyMu.Lock()
	c.dirty.ReplaceOrInsert(f.off)
	c.dirtyMu.Unlock()
	if c.dirtyBytes.Add(f.size()) == f.size() {
		c.pool.dirtyCaches.Add(1)
	}
	c.pool.dirtyBytes.Add(f.size())
}

// clearDirtyLocked accounts a folio that becomes clean, in its cache and its pool.
// REQUIRES: shard.mu of f held for writing, f indexed and dirty.
func (c *Cache) clearDirtyLocked(f *folio) {
	c.dirtyMu.Lock()
	c.dirty.Delete(f.off)
	c.dirtyMu.Unlock()
	if c.dirtyBytes.Add(-f.size()) == 0 {
		c.pool.dirtyCaches.Add(-1)
	}
	c.pool.dirtyBytes.Add(-f.size())
}

// DirtyBytes is the size of the dirty folios in the index (this cache's; Pool.DirtyBytes
// counts all).
func (c *Cache) DirtyBytes() int64 { return c.dirtyBytes.Load() }

// OverBackground reports whether the pool's dirty bytes exceed the background threshold.
func (c *Cache) OverBackground() bool { return c.pool.dirtyBytes.Load() > c.pool.background.Load() }

// NeedWriteback returns a channel that receives when the pool's dirty bytes exceed the
// background threshold as this cache's grow, or when a writer (of any cache of the pool)
// waits for memory or for writeback while this cache holds dirty data. One receive may
// stand for many events; the writeback engine then writes back until OverBackground is
// false.
func (c *Cache) NeedWriteback() <-chan struct{} { return c.needWB }

// AscendDirty calls fn for the dirty folios starting in [off, end), in offset order, until
// fn returns false. No lock is held while fn runs, so fn may call any method.
func (c *Cache) AscendDirty(off, end int64, fn func(FolioRef) bool) {
	if c.closed.Load() {
		return
	}
	var batch [32]int64
	for off < end {
		k := 0
		c.dirtyMu.Lock()
		c.dirty.AscendRange(off, end, func(o int64) bool {
			batch[k] = o
			k++
			return k < len(batch)
		})
		c.dirtyMu.Unlock()
		for _, o := range batch[:k] {
			if ref, ok := c.Lookup(o); ok && ref.Off == o && ref.Dirty && !fn(ref) {
				return
			}
		}
		if k < len(batch) {
			return
		}
		off = batch[k-1] + 1
	}
}
