package pagecache

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// PoolConfig configures a Pool. The zero value is usable.
type PoolConfig struct {
	// Budget is the most folio memory the pool holds for all its caches,
	// rounded down to PageSize. 0 means DefaultBudget.
	Budget int64
	// BackgroundDirty is the dirty byte count, over all caches, above
	// which NeedWriteback fires and OverBackground reports true. 0 means
	// Budget/4.
	BackgroundDirty int64
	// HardDirty is the dirty byte count, over all caches, above which
	// writers wait for writeback (see Cache.Reserve). 0 means Budget*3/4;
	// it is raised to BackgroundDirty if lower.
	HardDirty int64
	// Prefault maps and touches all the memory in NewPool, so that no
	// write later pays a page fault on its first use of a page.
	Prefault bool
}

// Pool is the folio memory of one or more Caches (one per file): one
// budget, one reclaim (S3-FIFO over the folios of every cache) and dirty
// thresholds counted over all of them. Each Cache keeps its own index,
// dirty set and writeback.
//
// Guarantees: the caches of a pool never hold more folio memory than its
// budget together; reclaim evicts the clean, unused folios of any of them
// in one order; a closed Cache gives its memory back at once. A writer
// waits for writeback only while the pool's dirty bytes exceed HardDirty
// and its own cache holds at least its share of that limit (HardDirty over
// the number of caches holding dirty data), so a cache that writes a lot
// cannot hold back the writes of one that writes little; a writer short
// of memory wakes the writeback of every cache holding dirty data.
//
// Lock order: memMu, then a Cache's locks (see Cache).
type Pool struct {
	closed atomic.Bool
	// background and hard are the dirty thresholds: the configured ones,
	// or fractions of Budget (which the reserve moves; see setThresholds).
	background  atomic.Int64
	hard        atomic.Int64
	cfg         PoolConfig
	prefault    bool
	budget      atomic.Int64  // what the caches may use: the arena's limit (see SetReserve)
	genSeq      atomic.Uint64 // last generation handed out
	wbSeq       atomic.Uint64 // last writeback token handed out
	dirtyBytes  atomic.Int64  // over all caches
	dirtyCaches atomic.Int64  // caches holding dirty folios

	memMu   sync.Mutex // guards mem, folios' queue and owner fields, freeIDs, queues, wake, waiters, caches, nextID, every index insertion and Cache.used
	mem     *arena
	folios  []folio // descriptors, one per page: a folio has at least one page
	freeIDs []int32
	queues  reclaimQueues
	wake    chan struct{} // closed when memory frees or folios become clean
	waiters int
	caches  []*Cache // the open caches, for waking their writeback
	nextID  uint32   // the id the next cache gets (ghost entries name it)
}

// NewPool returns an empty pool whose memory is mapped at once.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if cfg.Budget < 0 || cfg.BackgroundDirty < 0 || cfg.HardDirty < 0 {
		return nil, fmt.Errorf("pool config %+v: %w", cfg, ErrInvalid)
	}
	if cfg.Budget == 0 {
		cfg.Budget = DefaultBudget
	}
	mem, err := newArena(cfg.Budget, cfg.Prefault)
	if err != nil {
		return nil, err
	}
	p := &Pool{
		cfg:      cfg,
		prefault: cfg.Prefault,
		mem:      mem,
		folios:   make([]folio, mem.npages),
		freeIDs:  make([]int32, mem.npages),
		wake:     make(chan struct{}),
	}
	for i := range p.freeIDs {
		p.freeIDs[i] = mem.npages - 1 - int32(i)
	}
	p.queues.init(mem)
	p.budget.Store(mem.limitBytes())
	p.setThresholds()
	return p, nil
}

// setThresholds sets the dirty thresholds from the configuration and the
// budget: a quarter and three quarters of it by default, so that a reserve
// lowers them with the memory the caches may use.
func (p *Pool) setThresholds() {
	b := p.budget.Load()
	bg, hard := p.cfg.BackgroundDirty, p.cfg.HardDirty
	if bg == 0 {
		bg = b / 4
	}
	if hard == 0 {
		hard = b * 3 / 4
	}
	p.background.Store(bg)
	p.hard.Store(max(hard, bg))
}

// Close unmaps the memory. It fails with ErrBusy while a Cache of the
// pool is open, and with ErrClosed the second time.
func (p *Pool) Close() error {
	p.memMu.Lock()
	defer p.memMu.Unlock()
	if len(p.caches) > 0 {
		return fmt.Errorf("close a pool with %d caches open: %w", len(p.caches), ErrBusy)
	}
	if p.closed.Swap(true) {
		return ErrClosed
	}
	p.wakeLocked()
	return p.mem.unmap()
}

// Budget is the folio memory the caches may hold, in bytes: the budget
// NewPool rounded, less the reserve (SetReserve).
func (p *Pool) Budget() int64 { return p.budget.Load() }

// Used is the folio memory in use by all caches, including copies of
// folios under writeback.
func (p *Pool) Used() int64 {
	p.memMu.Lock()
	defer p.memMu.Unlock()
	return p.mem.used
}

// MetadataBytes is the Go heap memory the pool's own structures hold: a
// descriptor and reclaim state per page of the budget (some 3% of it).
func (p *Pool) MetadataBytes() int64 {
	const ghostEntry = 48 // a ghost map entry, roughly
	n := int64(len(p.folios))
	return n * (int64(unsafe.Sizeof(folio{})) + 4 + int64(unsafe.Sizeof(ghostKey{})) + ghostEntry) // a descriptor, a free id, ghost ring and map
}

// DirtyBytes is the size of the dirty folios of all caches.
func (p *Pool) DirtyBytes() int64 { return p.dirtyBytes.Load() }

// Caches is the number of open caches on the pool.
func (p *Pool) Caches() int {
	p.memMu.Lock()
	defer p.memMu.Unlock()
	return len(p.caches)
}

// Reclaim evicts clean, unused folios of any cache until at least target
// bytes are freed or none is left to evict, and returns the bytes freed.
func (p *Pool) Reclaim(target int64) int64 {
	if p.closed.Load() {
		return 0
	}
	p.memMu.Lock()
	defer p.memMu.Unlock()
	before := p.mem.used
	for before-p.mem.used < target && p.evictOneLocked() {
	}
	freed := before - p.mem.used
	if freed > 0 {
		p.wakeLocked()
	}
	return freed
}

// joinLocked adds c to the pool's caches.
// REQUIRES: memMu held.
func (p *Pool) joinLocked(c *Cache) {
	c.id = p.nextID
	p.nextID++
	p.caches = append(p.caches, c)
}

// leaveLocked removes c from the pool's caches.
// REQUIRES: memMu held.
func (p *Pool) leaveLocked(c *Cache) {
	for i, o := range p.caches {
		if o == c {
			p.caches[i] = p.caches[len(p.caches)-1]
			p.caches[len(p.caches)-1] = nil
			p.caches = p.caches[:len(p.caches)-1]
			return
		}
	}
}

// kickDirtyLocked wakes the writeback of every cache that holds dirty
// data: a writer short of memory needs whichever of them to write back.
// REQUIRES: memMu held.
func (p *Pool) kickDirtyLocked() {
	for _, c := range p.caches {
		if c.dirtyBytes.Load() > 0 {
			c.kickWriteback()
		}
	}
}

// overHard reports whether a writer of c waits for writeback: the pool's
// dirty bytes exceed the hard threshold and c holds at least its share of
// it (the threshold over the number of caches holding dirty data).
func (p *Pool) overHard(c *Cache) bool {
	hard := p.hard.Load()
	if p.dirtyBytes.Load() <= hard {
		return false
	}
	return c.dirtyBytes.Load() >= hard/max(p.dirtyCaches.Load(), 1)
}

// newFolioLocked allocates a folio of 1<<order pages for cache c, evicting
// clean folios (of any cache) when needed. The folio is in no index and no
// queue; the caller sets off and state.
// REQUIRES: memMu held.
func (p *Pool) newFolioLocked(c *Cache, order int) (int32, bool) {
	for {
		if page, ok := p.mem.alloc(order); ok {
			id := p.freeIDs[len(p.freeIDs)-1]
			p.freeIDs = p.freeIDs[:len(p.freeIDs)-1]
			f := &p.folios[id]
			f.page, f.order, f.owner = page, uint8(order), c
			f.writers, f.wbToken = 0, 0
			f.pins.Store(0)
			f.freq.Store(0)
			f.gen.Store(p.genSeq.Add(1))
			c.used += f.size()
			return id, true
		}
		if !p.evictOneLocked() {
			return 0, false
		}
	}
}

// freeFolioLocked returns the memory and descriptor of a folio in no index
// and no queue.
// REQUIRES: memMu held.
func (p *Pool) freeFolioLocked(id int32) {
	f := &p.folios[id]
	f.state.Store(0)
	f.owner.used -= f.size()
	f.owner = nil
	if withheld := p.mem.free(f.page, int(f.order)); len(withheld) > 0 {
		p.releaseLocked(withheld)
	}
	p.freeIDs = append(p.freeIDs, id)
}

// wakeLocked wakes everyone waiting for memory or for dirty bytes to drop.
// REQUIRES: memMu held.
func (p *Pool) wakeLocked() {
	if p.waiters > 0 {
		close(p.wake)
		p.wake = make(chan struct{})
		p.waiters = 0
	}
}

// waitChLocked returns the channel closed by the next wakeLocked.
// REQUIRES: memMu held.
func (p *Pool) waitChLocked() <-chan struct{} {
	p.waiters++
	return p.wake
}
