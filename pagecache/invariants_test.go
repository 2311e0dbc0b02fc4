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

// checkInvariants verifies the index, the accounting and the queues. With quiescent it
// also requires that no folio is pinned or reserved.
func (c *Cache) checkInvariants(quiescent bool) error {
	if c.closed.Load() {
		return nil
	}
	c.memMu.Lock()
	defer c.memMu.Unlock()
	for i := range c.shards {
		c.shards[i].mu.Lock()
		defer c.shards[i].mu.Unlock()
	}
	c.dirtyMu.Lock()
	defer c.dirtyMu.Unlock()

	var indexedBytes, detachedBytes, dirtyBytes, queued int64
	indexed, inUse := 0, 0
	dirtyOffs := map[int64]bool{}
	for id := range c.folios {
		f := &c.folios[id]
		st := f.state.Load()
		if st == 0 {
			continue
		}
		inUse++
		size := f.size()
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
			if f.queue == queueNone {
				return fmt.Errorf("indexed folio %d at %d in no queue", id, f.off)
			}
			queued += size
			s := c.shardOf(f.off)
			for p := f.off; p < f.end(); p += PageSize {
				if got, ok := s.lookupLocked(p); !ok || got != int32(id) {
					return fmt.Errorf("page %d of folio %d maps to %d (%v)", p, id, got, ok)
				}
			}
			if st&stateDirty != 0 {
				dirtyBytes += size
				dirtyOffs[f.off] = true
			}
		default:
			return fmt.Errorf("folio %d: state %b neither indexed nor detached", id, st)
		}
	}
	// Every mapped page belongs to an indexed folio (so folios do not overlap).
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
				p := key<<regionShift + int64(slot)<<pageShift
				if f.state.Load()&stateIndexed == 0 || p < f.off || p >= f.end() || c.shardOf(p) != s {
					return fmt.Errorf("page %d maps to folio %d at %d (state %b)", p, v-1, f.off, f.state.Load())
				}
			}
			if n != r.count || n == 0 {
				return fmt.Errorf("region %d: count %d, mapped %d", key, r.count, n)
			}
			pages += n
		}
	}
	if int64(pages)<<pageShift != indexedBytes {
		return fmt.Errorf("mapped pages %d, indexed bytes %d", pages, indexedBytes)
	}
	if used := indexedBytes + detachedBytes; used != c.mem.used || used > c.mem.size() {
		return fmt.Errorf("used %d, folios %d, budget %d", c.mem.used, used, c.mem.size())
	}
	if inUse+len(c.freeIDs) != len(c.folios) {
		return fmt.Errorf("descriptors: %d in use + %d free != %d", inUse, len(c.freeIDs), len(c.folios))
	}
	var free int64
	for k, h := range c.mem.freeHead {
		for p := h; p >= 0; p = c.mem.next[p] {
			if c.mem.freeOrd[p] != int8(k+1) || int(p)%(1<<k) != 0 {
				return fmt.Errorf("free block at page %d order %d mislabelled", p, k)
			}
			free += PageSize << k
		}
	}
	if free+c.mem.used != c.mem.size() {
		return fmt.Errorf("free %d + used %d != size %d", free, c.mem.used, c.mem.size())
	}
	if q := c.queues; q.small.bytes+q.main.bytes != queued || q.small.n+q.main.n != indexed {
		return fmt.Errorf("queues hold %d+%d bytes, %d+%d folios; indexed %d bytes, %d folios",
			q.small.bytes, q.main.bytes, q.small.n, q.main.n, queued, indexed)
	}
	if dirtyBytes != c.dirtyBytes.Load() || c.dirty.Len() != len(dirtyOffs) {
		return fmt.Errorf("dirty: counted %d bytes / %d folios, accounted %d / %d",
			dirtyBytes, len(dirtyOffs), c.dirtyBytes.Load(), c.dirty.Len())
	}
	var err error
	c.dirty.Ascend(func(o int64) bool {
		if !dirtyOffs[o] {
			err = fmt.Errorf("dirty set has %d, no dirty folio there", o)
		}
		return err == nil
	})
	return err
}
