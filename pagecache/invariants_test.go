package pagecache

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// newTestCache returns a cache whose invariants are checked and which is closed when the
// test ends.
func newTestCache(t testing.TB, cfg Config) *Cache {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := c.checkInvariants(true); err != nil {
			t.Errorf("invariants at cleanup: %v", err)
		}
		require.NoError(t, c.Close())
	})
	return c
}

// checkInvariants verifies the invariants of the cache's pool (see Pool.checkInvariants).
func (c *Cache) checkInvariants(quiescent bool) error {
	if c.closed.Load() {
		return nil
	}
	return c.pool.checkInvariants(quiescent)
}

// checkInvariants verifies the indexes of every open cache, the accounting (per cache and
// over the pool) and the queues. With quiescent it also requires that no folio is pinned or
// reserved.
func (p *Pool) checkInvariants(quiescent bool) error {
	if p.closed.Load() {
		return nil
	}
	p.memMu.Lock()
	defer p.memMu.Unlock()
	for _, c := range p.caches {
		for i := range c.shards {
			c.shards[i].mu.Lock()
			defer c.shards[i].mu.Unlock()
		}
		c.dirtyMu.Lock()
		defer c.dirtyMu.Unlock()
	}
	open := map[*Cache]bool{}
	for _, c := range p.caches {
		open[c] = true
	}

	type perCache struct {
		indexedBytes, dirtyBytes, used int64
		dirtyOffs                      map[int64]bool
	}
	per := map[*Cache]*perCache{}
	for _, c := range p.caches {
		per[c] = &perCache{dirtyOffs: map[int64]bool{}}
	}
	var indexedBytes, detachedBytes, dirtyBytes, queued int64
	indexed, inUse := 0, 0
	for id := range p.folios {
		f := &p.folios[id]
		st := f.state.Load()
		if st == 0 {
			if f.owner != nil {
				return fmt.Errorf("free folio %d has an owner", id)
			}
			continue
		}
		inUse++
		size := f.size()
		if !open[f.owner] {
			return fmt.Errorf("folio %d at %d: its cache is not open", id, f.off)
		}
		pc := per[f.owner]
		pc.used += size
		if f.order > maxOrder || f.off%size != 0 || int64(f.page)%(1<<f.order) != 0 {
			return fmt.Errorf("folio %d: off %d order %d page %d misaligned", id, f.off, f.order, f.page)
		}
		if st&stateDirty != 0 && st&stateUptodate == 0 {
			return fmt.Errorf("folio %d at %d dirty but not uptodate", id, f.off)
		}
		if st&stateWriteback != 0 && st&stateDirty == 0 {
			return fmt.Errorf("folio %d at %d under writeback but clean", id, f.off)
		}
		if quiescent && (f.pins.Load() != 0 || f.writers != 0) {
			return fmt.Errorf("folio %d at %d: pins %d writers %d", id, f.off, f.pins.Load(), f.writers)
		}
		switch {
		case st&stateDetached != 0:
			if st&stateIndexed != 0 || st&stateWriteback == 0 || f.queue != queueNone {
				return fmt.Errorf("detached folio %d at %d: state %b queue %d", id, f.off, st, f.queue)
			}
			detachedBytes += size
		case st&stateIndexed != 0:
			indexed++
			indexedBytes += size
			pc.indexedBytes += size
			if f.queue == queueNone {
				return fmt.Errorf("indexed folio %d at %d in no queue", id, f.off)
			}
			queued += size
			s := f.owner.shardOf(f.off)
			for q := f.off; q < f.end(); q += PageSize {
				if got, ok := s.lookupLocked(q); !ok || got != int32(id) {
					return fmt.Errorf("page %d of folio %d maps to %d (%v)", q, id, got, ok)
				}
			}
			if st&stateDirty != 0 {
				dirtyBytes += size
				pc.dirtyBytes += size
				pc.dirtyOffs[f.off] = true
			}
		default:
			return fmt.Errorf("folio %d: state %b neither indexed nor detached", id, st)
		}
	}
	dirtyCaches := int64(0)
	for _, c := range p.caches {
		pc := per[c]
		if err := c.checkIndexLocked(pc.indexedBytes); err != nil {
			return err
		}
		if pc.used != c.used {
			return fmt.Errorf("cache %d: its folios take %d bytes, accounted %d", c.id, pc.used, c.used)
		}
		if pc.dirtyBytes != c.dirtyBytes.Load() || c.dirty.Len() != len(pc.dirtyOffs) {
			return fmt.Errorf("cache %d: dirty: counted %d bytes / %d folios, accounted %d / %d",
				c.id, pc.dirtyBytes, len(pc.dirtyOffs), c.dirtyBytes.Load(), c.dirty.Len())
		}
		var err error
		c.dirty.Ascend(func(o int64) bool {
			if !pc.dirtyOffs[o] {
				err = fmt.Errorf("cache %d: dirty set has %d, no dirty folio there", c.id, o)
			}
			return err == nil
		})
		if err != nil {
			return err
		}
		if pc.dirtyBytes > 0 {
			dirtyCaches++
		}
	}
	if used := indexedBytes + detachedBytes; used != p.mem.used || used > p.mem.size() {
		return fmt.Errorf("used %d, folios %d, budget %d", p.mem.used, used, p.mem.size())
	}
	if inUse+len(p.freeIDs) != len(p.folios) {
		return fmt.Errorf("descriptors: %d in use + %d free != %d", inUse, len(p.freeIDs), len(p.folios))
	}
	if err := p.mem.check(); err != nil {
		return err
	}
	if p.budget.Load() != p.mem.limitBytes() {
		return fmt.Errorf("budget %d, arena limit %d", p.budget.Load(), p.mem.limitBytes())
	}
	if q := p.queues; q.small.bytes+q.main.bytes != queued || q.small.n+q.main.n != indexed {
		return fmt.Errorf("queues hold %d+%d bytes, %d+%d folios; indexed %d bytes, %d folios",
			q.small.bytes, q.main.bytes, q.small.n, q.main.n, queued, indexed)
	}
	if dirtyBytes != p.dirtyBytes.Load() || dirtyCaches != p.dirtyCaches.Load() {
		return fmt.Errorf("pool dirty: counted %d bytes in %d caches, accounted %d in %d",
			dirtyBytes, dirtyCaches, p.dirtyBytes.Load(), p.dirtyCaches.Load())
	}
	return nil
}

// checkIndexLocked verifies that every mapped page of c belongs to an indexed folio of c
// (so folios do not overlap) and that they add up to indexedBytes.
// REQUIRES: every shard.mu of c held.
func (c *Cache) checkIndexLocked(indexedBytes int64) error {
	pages := 0
	for i := range c.shards {
		s := &c.shards[i]
		for key, r := range s.regions {
			n := 0
			for slot, v := range r.slots {
				if v == 0 {
					continue
				}
				n++
				f := &c.folios[v-1]
				q := key<<regionShift + int64(slot)<<pageShift
				if f.state.Load()&stateIndexed == 0 || f.owner != c || q < f.off || q >= f.end() || c.shardOf(q) != s {
					return fmt.Errorf("cache %d: page %d maps to folio %d at %d (state %b)", c.id, q, v-1, f.off, f.state.Load())
				}
			}
			if n != r.count || n == 0 {
				return fmt.Errorf("cache %d: region %d: count %d, mapped %d", c.id, key, r.count, n)
			}
			pages += n
		}
	}
	if int64(pages)<<pageShift != indexedBytes {
		return fmt.Errorf("cache %d: mapped pages %d, indexed bytes %d", c.id, pages, indexedBytes)
	}
	return nil
}
