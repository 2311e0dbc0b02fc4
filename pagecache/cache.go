package pagecache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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
}

// Cache caches one file in folios. See the package documentation for its guarantees.
//
// Lock order: memMu, then folio.contentMu, then shard.mu (one at a time), then dirtyMu.
type Cache struct {
	closed     atomic.Bool
	background int64
	hard       int64
	genSeq     atomic.Uint64 // last generation handed out
	wbSeq      atomic.Uint64 // last writeback token handed out
	dirtyBytes atomic.Int64
	needWB     chan struct{} // one-slot: poked when dirty bytes exceed background

	memMu   sync.Mutex // guards mem, folios' queue fields, freeIDs, queues, wake, waiters, and every index insertion
	mem     *arena
	folios  []folio // descriptors, one per page: a folio has at least one page
	freeIDs []int32
	queues  reclaimQueues
	wake    chan struct{} // closed when memory frees or folios become clean
	waiters int

	shards [shardCount]shard

	dirtyMu sync.Mutex           // guards dirty
	dirty   *btree.BTreeG[int64] // offsets of the dirty indexed folios

	reservations sync.Pool
}

// New returns an empty cache whose folio memory is mapped at once.
func New(cfg Config) (*Cache, error) {
	if cfg.Budget < 0 || cfg.BackgroundDirty < 0 || cfg.HardDirty < 0 {
		return nil, fmt.Errorf("config %+v: %w", cfg, ErrInvalid)
	}
	if cfg.Budget == 0 {
		cfg.Budget = DefaultBudget
	}
	mem, err := newArena(cfg.Budget, cfg.Prefault)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		background: cfg.BackgroundDirty,
		hard:       cfg.HardDirty,
		needWB:     make(chan struct{}, 1),
		mem:        mem,
		folios:     make([]folio, mem.npages),
		freeIDs:    make([]int32, mem.npages),
		wake:       make(chan struct{}),
		dirty:      btree.NewOrderedG[int64](32),
	}
	if c.background == 0 {
		c.background = mem.size() / 4
	}
	if c.hard == 0 {
		c.hard = mem.size() * 3 / 4
	}
	c.hard = max(c.hard, c.background)
	for i := range c.freeIDs {
		c.freeIDs[i] = mem.npages - 1 - int32(i)
	}
	c.queues.init(mem)
	c.reservations.New = func() any { return &Reservation{c: c, pooled: true} }
	return c, nil
}

// Close unmaps the memory. The cache is unusable afterwards: methods fail with ErrClosed.
// Dirty data still cached is lost; the caller writes it back first.
func (c *Cache) Close() error {
	if c.closed.Swap(true) {
		return ErrClosed
	}
	c.memMu.Lock()
	defer c.memMu.Unlock()
	c.wakeLocked()
	return c.mem.unmap()
}

// Budget is the memory budget in bytes, as rounded by New.
func (c *Cache) Budget() int64 { return c.mem.size() }

// Used is the folio memory in use, including copies of folios under writeback.
func (c *Cache) Used() int64 {
	c.memMu.Lock()
	defer c.memMu.Unlock()
	return c.mem.used
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

// newFolioLocked allocates a folio of 1<<order pages, evicting clean folios when needed.
// The folio is in no index and no queue; the caller sets off and state.
// REQUIRES: memMu held.
func (c *Cache) newFolioLocked(order int) (int32, bool) {
	for {
		if page, ok := c.mem.alloc(order); ok {
			id := c.freeIDs[len(c.freeIDs)-1]
			c.freeIDs = c.freeIDs[:len(c.freeIDs)-1]
			f := &c.folios[id]
			f.page, f.order = page, uint8(order)
			f.writers, f.wbToken = 0, 0
			f.pins.Store(0)
			f.freq.Store(0)
			f.gen.Store(c.genSeq.Add(1))
			return id, true
		}
		if !c.evictOneLocked() {
			return 0, false
		}
	}
}

// freeFolioLocked returns the memory and descriptor of a folio in no index and no queue.
// REQUIRES: memMu held.
func (c *Cache) freeFolioLocked(id int32) {
	f := &c.folios[id]
	f.state.Store(0)
	c.mem.free(f.page, int(f.order))
	c.freeIDs = append(c.freeIDs, id)
}

// wakeLocked wakes everyone waiting for memory or for dirty bytes to drop.
// REQUIRES: memMu held.
func (c *Cache) wakeLocked() {
	if c.waiters > 0 {
		close(c.wake)
		c.wake = make(chan struct{})
		c.waiters = 0
	}
}

// waitChLocked returns the channel closed by the next wakeLocked.
// REQUIRES: memMu held.
func (c *Cache) waitChLocked() <-chan struct{} {
	c.waiters++
	return c.wake
}

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
