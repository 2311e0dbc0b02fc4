package pagecache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/google/btree"
)

// DefaultBudget is the memory budget of a zero Config.
const DefaultBudget = 64 << 20

// Config configures a Cache. The zero value is usable.
type Config struct {
	// Budget is the most folio memory the cache holds, rounded down to PageSize.
	// 0 means DefaultBudget.
	Budget int64
	// BackgroundDirty is the dirty byte count above which NeedWriteback fires and
	// OverBackground reports true. 0 means Budget/4.
	BackgroundDirty int64
	// HardDirty is the dirty byte count above which writers wait for writeback.
	// 0 means Budget*3/4; it is raised to BackgroundDirty if lower.
	HardDirty int64
	// Prefault maps and touches all the memory in New (MAP_POPULATE), so
	// that no write later pays a page fault on its first use of a page:
	// steadier latency, at the cost of holding the whole budget at once.
	Prefault bool
	// Pool, when not nil, is the memory the cache shares with the other
	// caches of the pool (see Pool): its budget and dirty thresholds apply
	// to all of them, and Budget, BackgroundDirty, HardDirty and Prefault
	// must be zero. nil: the cache makes a pool of its own from the fields
	// above, which Close closes.
	Pool *Pool
}

// Cache caches one file in folios, in the memory of its Pool. See the package documentation
// for its guarantees.
//
// Lock order: Pool.memMu, then folio.contentMu, then shard.mu (one at a time), then dirtyMu.
type Cache struct {
	closed     atomic.Bool
	pool       *Pool
	owned      bool    // the pool is the cache's own: Close closes it
	id         uint32  // the cache's number in its pool (its ghost entries carry it)
	folios     []folio // the pool's descriptors (the same slice, never resized)
	mem        *arena  // the pool's memory
	dirtyBytes atomic.Int64
	needWB     chan struct{} // one-slot: poked when dirty bytes exceed background
	used       int64         // folio memory of this cache, copies under writeback included; guarded by pool.memMu

	shards [shardCount]shard

	dirtyMu sync.Mutex           // guards dirty
	dirty   *btree.BTreeG[int64] // offsets of the dirty indexed folios

	reservations sync.Pool
}

// New returns an empty cache: on cfg.Pool, or on a pool of its own whose memory is mapped
// at once.
func New(cfg Config) (*Cache, error) {
	p, owned := cfg.Pool, false
	if p == nil {
		var err error
		p, err = NewPool(PoolConfig{Budget: cfg.Budget, BackgroundDirty: cfg.BackgroundDirty, HardDirty: cfg.HardDirty, Prefault: cfg.Prefault})
		if err != nil {
			return nil, err
		}
		owned = true
	} else if cfg.Budget != 0 || cfg.BackgroundDirty != 0 || cfg.HardDirty != 0 || cfg.Prefault {
		return nil, fmt.Errorf("config %+v: a cache on a pool takes the pool's budget and thresholds: %w", cfg, ErrInvalid)
	}
	c := &Cache{
		pool:   p,
		owned:  owned,
		folios: p.folios,
		mem:    p.mem,
		needWB: make(chan struct{}, 1),
		dirty:  btree.NewOrderedG[int64](32),
	}
	c.reservations.New = func() any { return &Reservation{c: c, pooled: true} }
	p.memMu.Lock()
	defer p.memMu.Unlock()
	if p.closed.Load() {
		return nil, ErrClosed
	}
	p.joinLocked(c)
	return c, nil
}

// Close drops every folio of the cache, dirty or not, giving its memory back to the pool
// (and unmaps a pool of its own). The cache is unusable afterwards: methods fail with
// ErrClosed. Dirty data still cached is lost; the caller writes it back first.
func (c *Cache) Close() error {
	if c.closed.Swap(true) {
		return ErrClosed
	}
	p := c.pool
	p.memMu.Lock()
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for _, id := range s.folioIDsLocked(0) {
			c.dropLocked(s, id)
		}
		s.mu.Unlock()
	}
	p.leaveLocked(c)
	p.wakeLocked()
	p.memMu.Unlock()
	if c.owned {
		return p.Close()
	}
	return nil
}

// Pool is the pool the cache's memory comes from.
func (c *Cache) Pool() *Pool { return c.pool }

// Budget is the folio memory the caches of the cache's pool may hold (shared with the
// pool's other caches; see Pool.Budget).
func (c *Cache) Budget() int64 { return c.pool.Budget() }

// Used is the folio memory in use by this cache, including copies of folios under
// writeback.
func (c *Cache) Used() int64 {
	c.pool.memMu.Lock()
	defer c.pool.memMu.Unlock()
	return c.used
}

// IndexBytes is the Go heap memory the cache's own structures hold: the cache, its index
// (2 KiB per 2 MiB of the file it caches anything of) and its dirty set. A pool's owner
// reserves it in the pool's budget (see Pool.SetReserve).
func (c *Cache) IndexBytes() int64 {
	n := int64(unsafe.Sizeof(*c))
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += int64(len(s.regions)+len(s.spare)) * int64(unsafe.Sizeof(region{}))
		s.mu.RUnlock()
	}
	c.dirtyMu.Lock()
	n += int64(c.dirty.Len()) * 16 // a btree of int64: about twice the keys
	c.dirtyMu.Unlock()
	return n
}

// Lookup returns the folio covering off.
func (c *Cache) Lookup(off int64) (FolioRef, bool) {
	if off < 0 || c.closed.Load() {
		return FolioRef{}, false
	}
	s := c.shardOf(off)
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.lookupLocked(off)
	if !ok {
		return FolioRef{}, false
	}
	return c.folios[id].ref(), true
}

func (c *Cache) bytesOf(f *folio) []byte { return c.mem.bytes(f.page, int(f.order)) }

// retryInterval bounds a wait so that memory freed without a wake-up (a reader unpinning a
// folio) is noticed.
const retryInterval = 2 * time.Millisecond

// waitFor waits for ch, a retry interval, or the end of ctx (its error is returned).
func waitFor(ctx context.Context, ch <-chan struct{}) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTimer(retryInterval)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func (c *Cache) kickWriteback() {
	select {
	case c.needWB <- struct{}{}:
	default:
	}
}

func floorPage(off int64) int64 { return off &^ (PageSize - 1) }
func ceilPage(off int64) int64  { return (off + PageSize - 1) &^ (PageSize - 1) }
