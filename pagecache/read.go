package pagecache

import (
	"fmt"
	"math"
)

// Read copies into p the cached bytes of the file from off, stopping at the first byte that
// is not in an uptodate folio. It returns the bytes copied and, when n < len(p), the gap: the
// PageSize-aligned extent from that byte up to the next uptodate folio (or the end of the
// range rounded up to PageSize). The caller reads the gap from the device, calls Fill with
// it, and continues reading at off+n. Hits do not allocate.
func (c *Cache) Read(p []byte, off int64) (n int, gap Extent, err error) {
	if c.closed.Load() {
		return 0, Extent{}, ErrClosed
	}
	if off < 0 || off > math.MaxInt64-int64(len(p))-2*PageSize {
		return 0, Extent{}, fmt.Errorf("read %d bytes at %d: %w", len(p), off, ErrInvalid)
	}
	for n < len(p) {
		pos := off + int64(n)
		id, ok := c.pinUptodate(pos)
		if !ok {
			return n, c.gapFrom(pos, off+int64(len(p))), nil
		}
		f := &c.folios[id]
		f.contentMu.RLock()
		n += copy(p[n:], c.bytesOf(f)[pos-f.off:])
		f.contentMu.RUnlock()
		f.pins.Add(-1)
	}
	return n, Extent{}, nil
}

// pinUptodate pins the folio covering pos if it is uptodate.
func (c *Cache) pinUptodate(pos int64) (int32, bool) {
	s := c.shardOf(pos)
	s.mu.RLock()
	id, ok := s.lookupLocked(pos)
	if ok {
		f := &c.folios[id]
		if ok = f.has(stateUptodate); ok {
			f.pins.Add(1)
			f.touch()
		}
	}
	s.mu.RUnlock()
	return id, ok
}

// gapFrom returns the page-aligned extent from pos to the next uptodate folio or ceil(end).
func (c *Cache) gapFrom(pos, end int64) Extent {
	start, hi := floorPage(pos), ceilPage(end)
	q := start
	for q < hi {
		s := c.shardOf(q)
		regionEnd := min(hi, (q>>regionShift+1)<<regionShift)
		found := false
		s.mu.RLock()
		for q < regionEnd {
			id, ok := s.lookupLocked(q)
			if !ok {
				q += PageSize
				continue
			}
			if f := &c.folios[id]; f.has(stateUptodate) {
				found = true
				break
			} else {
				q = f.end()
			}
		}
		s.mu.RUnlock()
		if found {
			break
		}
	}
	q = min(max(q, start+PageSize), hi)
	return Extent{Off: start, Len: q - start}
}

// Fill caches data as the content of [off, off+len(data)) read from the device. off and
// len(data) are multiples of PageSize. Pages already in an uptodate folio are left alone (they
// may be newer than the device); folios that are not uptodate and lie inside the range are
// filled; missing pages get new clean folios, evicting clean folios if memory is short.
// Fill never waits: when memory runs out it stops with an error wrapping ErrNoMemory, having
// cached a prefix.
func (c *Cache) Fill(off int64, data []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if off < 0 || off%PageSize != 0 || len(data)%PageSize != 0 || off > math.MaxInt64-int64(len(data)) {
		return fmt.Errorf("fill %d bytes at %d: %w", len(data), off, ErrInvalid)
	}
	hi := off + int64(len(data))
	for pos := off; pos < hi; {
		next, err := c.fillAt(pos, off, hi, data)
		if err != nil {
			return fmt.Errorf("fill %d bytes at %d: %w", len(data), off, err)
		}
		pos = next
	}
	return nil
}

// fillAt fills the folio at pos from data (which starts at off and ends at hi), creating it
// if missing, and returns where the next folio starts.
func (c *Cache) fillAt(pos, off, hi int64, data []byte) (int64, error) {
	s := c.shardOf(pos)
	s.mu.Lock()
	if id, ok := s.lookupLocked(pos); ok {
		f := &c.folios[id]
		f.pins.Add(1)
		s.mu.Unlock()
		next := f.end()
		if f.off >= off && next <= hi && !f.has(stateUptodate) {
			f.contentMu.Lock()
			if !f.has(stateUptodate) {
				copy(c.bytesOf(f), data[f.off-off:])
				f.state.Or(stateUptodate)
			}
			f.contentMu.Unlock()
		}
		f.pins.Add(-1)
		return next, nil
	}
	s.mu.Unlock()

	p := c.pool
	p.memMu.Lock()
	defer p.memMu.Unlock()
	if c.closed.Load() {
		return 0, ErrClosed
	}
	s.mu.Lock()
	if _, ok := s.lookupLocked(pos); ok {
		s.mu.Unlock()
		return pos, nil // raced with an insertion: go round again
	}
	order := s.chooseOrderLocked(pos, hi, c.mem.topOrder)
	s.mu.Unlock()
	id, ok := p.newFolioLocked(c, order)
	if !ok {
		return 0, ErrNoMemory
	}
	f := &c.folios[id]
	copy(c.bytesOf(f), data[pos-off:])
	f.off = pos
	f.state.Store(stateIndexed | stateUptodate)
	s.mu.Lock()
	s.setLocked(f, id)
	s.mu.Unlock()
	p.enqueueNewLocked(id)
	return f.end(), nil
}
