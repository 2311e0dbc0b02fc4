package atomicio

import (
	"errors"
	"fmt"
	"sync"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/pagecache"
)

// Cache is one memory budget that many Files share: a storage engine with
// a file per table and index opens them all on one Cache (Options.Cache)
// and gives the set one budget instead of one per file.
//
//	cache := atomicio.NewCache(1 << 30)
//	a, err := atomicio.Open("t1.dat", atomicio.Options{Cache: cache})
//	b, err := atomicio.Open("t2.dat", atomicio.Options{Cache: cache})
//	...
//	err = cache.Sync() // a checkpoint: every File durable, their flushes in parallel
//
// What is shared: the budget (the page cache of every File, the buffers
// of read misses and, in native mode, of untorn units, and the memory each
// File holds for itself: its index, its COW container's maps and buffers;
// see reserve.go), one reclaim (a File that reads or writes
// a lot takes the memory a quiet one does not use; the least recently
// useful clean pages of any File go first), and the dirty limits (a
// quarter of the budget starts background writeback, three quarters make
// writers wait), counted over all Files. What stays per File: writeback
// (each File writes back its own data, to its own device), errors (a
// failed write of one File is reported by that File's Sync only) and Sync.
//
// Guarantees: a File that writes a lot cannot keep another's writes
// waiting for memory beyond the other's WriteTimeout: a writer waits at
// the hard dirty limit only while its own File holds at least its share
// of it (the limit over the number of Files holding dirty data), and a
// writer short of memory wakes the writeback of every File holding dirty
// data. A closed File gives its memory back at once. The memory is mapped
// (and touched) when the first File opens on the Cache and unmapped when
// the last one closes: a Cache without open Files holds none.
//
// Limits: each File's own memory is reserved in the budget (some 100 KiB
// for a COW file of 16 MiB, counted with a quarter more for the Go heap's
// slack, and 8 bytes per 4 KiB of each container's size), so many Files
// leave the pages less: 200 COW files of 16 MiB on a 64 MiB Cache leave
// them 27 MiB (the pages always keep a quarter). That bounds the process:
// its RSS grows by at most Size plus some 10% (measured:
// TestRSSOf200FilesOnACache). A File's largest untorn write must fit the
// budget (ErrTooLarge otherwise), and in native mode the unit buffers of
// all Files together are a quarter of Size, at most 2 MiB. Fairness is by
// shares and wake-ups, not by a queue.
//
// Concurrency: a Cache is safe for concurrent use, and so are the Files on
// it, with each other and with Cache.Sync.
type Cache struct {
	size int64
	// own: the Cache of a File opened without Options.Cache, sized by
	// its Options for it alone (sizedFor).
	own        bool
	background int64 // the dirty limits of a File's own Cache (Options); 0: the defaults
	hard       int64

	mu sync.Mutex // guards files, mem and held
	// files are the Files open on the Cache, each with the memory it held
	// outside the pool when last counted (see reserve.go).
	files map[*File]int64
	mem   *cacheMemory // nil while no File is open
	held  int64        // the sum over files
}

// cacheMemory is what a Cache maps while Files are open on it.
type cacheMemory struct {
	pool     *pagecache.Pool
	readBufs *pagecache.Scratch // buffers of reads that miss
	unitBufs *pagecache.Scratch // native: buffers of units assembled from several folios; nil if none
}

// NewCache returns a Cache of size bytes (DefaultCacheSize when size is 0
// or less) for Files to share (see Options.Cache). It maps nothing yet.
func NewCache(size int64) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &Cache{size: size, files: map[*File]int64{}}
}

// ownCache is the Cache of a File opened without Options.Cache.
func ownCache(opts Options) *Cache {
	return &Cache{size: opts.CacheSize, own: true, background: opts.BackgroundDirty, hard: opts.HardDirty, files: map[*File]int64{}}
}

// Size is the Cache's memory budget in bytes.
func (c *Cache) Size() int64 { return c.size }

// Buffer memory carved out of a Cache's size.
const (
	// readBufferShare: reads that miss share Size/32 (a power of two
	// between readBufferMin and readBufferMax: 2 MiB of the default 64 MiB),
	// and one read takes at most half of it.
	readBufferShare = 32
	readBufferMin   = 16 << 10
	readBufferMax   = 4 << 20
	// unitBufferShare: native units not in one folio are assembled in at
	// most Size/4 or the device's AtomicMax, whichever is less (2 MiB of
	// the default 64 MiB on XFS); MaxUnit is bounded by it. A shared Cache
	// does not know its devices: it takes at most sharedUnitMax.
	unitBufferShare = 4
	sharedUnitMax   = 2 << 20
)

// split divides the Cache's size between the page cache and the buffers,
// for the first File to open on it (dev in mode; its Options opts).
//
// Size bounds the memory as a whole: the buffers of reads that miss, in
// native mode the buffers units are assembled in, the page cache, which
// gets the rest, and for a File's own Cache in COW mode the container's
// maps and buffers. Both kinds of buffers are mapped once, so no read or
// writeback pass allocates I/O memory: when the buffers are in use a read
// waits for one, a pass leaves a unit for its next pass. Limits: the page
// cache still gets at least half of what the buffers leave (the COW maps
// give way first) and room for one write of MaxAtomic bytes if Size is
// that large, and the read buffers are at least readBufferMin: a Size near
// MaxAtomic, or of a few pages, is exceeded by the buffers and maps. In
// native mode the unit buffers bound the largest unit (MaxUnit), so a
// small Size refuses untorn writes whose unit exceeds Size/4 with
// ErrTooLarge.
func (c *Cache) split(dev blockdev.Device, mode Mode, opts Options) (budget, readBytes, unitBytes int64) {
	readBytes = min(max(pow2Floor(max(c.size/readBufferShare, 1)), readBufferMin), readBufferMax)
	switch {
	case !c.own:
		unitBytes = pow2Floor(max(min(c.size/unitBufferShare, sharedUnitMax), pagecache.PageSize))
	case mode == ModeNative:
		unitBytes = pow2Floor(max(min(int64(dev.Limits().AtomicMax), c.size/unitBufferShare), pagecache.PageSize))
	}
	budget = c.size - readBytes - unitBytes
	if d, ok := dev.(memoryUser); ok && c.own {
		budget = max(budget-d.MemoryBytes(), budget/2)
	}
	if c.own {
		budget = max(budget, min(c.size, int64(opts.MaxAtomic)))
	}
	return max(budget, pagecache.PageSize), readBytes, unitBytes
}

// attach adds f (over dev, in mode) to the Cache, mapping its memory if f
// is the first File on it, and returns the memory.
func (c *Cache) attach(f *File, dev blockdev.Device, mode Mode, opts Options) (*cacheMemory, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mem == nil {
		budget, readBytes, unitBytes := c.split(dev, mode, opts)
		m, err := mapCacheMemory(budget, readBytes, unitBytes, c.background, c.hard, c.own)
		if err != nil {
			return nil, err
		}
		c.mem = m
	}
	c.files[f] = 0
	return c.mem, nil
}

// mapCacheMemory maps a Cache's pool and buffers. The unit buffers of a
// shared Cache are not touched until a native File uses them.
func mapCacheMemory(budget, readBytes, unitBytes, background, hard int64, own bool) (*cacheMemory, error) {
	m := &cacheMemory{}
	var err error
	if m.readBufs, err = pagecache.NewScratch(readBytes, true); err != nil {
		return nil, fmt.Errorf("%w: read buffers: %w", ErrInvalid, err)
	}
	if unitBytes > 0 {
		if m.unitBufs, err = pagecache.NewScratch(unitBytes, own); err != nil {
			_ = m.close()
			return nil, fmt.Errorf("%w: unit buffers: %w", ErrInvalid, err)
		}
	}
	m.pool, err = pagecache.NewPool(pagecache.PoolConfig{Budget: budget, BackgroundDirty: background, HardDirty: hard, Prefault: true})
	if err != nil {
		_ = m.close()
		return nil, fmt.Errorf("%w: cache: %w", ErrInvalid, err)
	}
	return m, nil
}

// close unmaps what m holds.
func (m *cacheMemory) close() error {
	var errs []error
	if m.pool != nil {
		errs = append(errs, m.pool.Close())
	}
	if m.readBufs != nil {
		errs = append(errs, m.readBufs.Close())
	}
	if m.unitBufs != nil {
		errs = append(errs, m.unitBufs.Close())
	}
	return errors.Join(errs...)
}

// detach removes f, whose page cache is closed, from the Cache, and
// unmaps the memory when no File is left on it.
func (c *Cache) detach(f *File) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held -= c.files[f]
	delete(c.files, f)
	if len(c.files) > 0 || c.mem == nil {
		c.reserveLocked()
		return nil
	}
	err := c.mem.close()
	c.mem = nil
	return err
}

// openFiles returns the Files open on the Cache now.
func (c *Cache) openFiles() []*File {
	c.mu.Lock()
	defer c.mu.Unlock()
	files := make([]*File, 0, len(c.files))
	for f := range c.files {
		files = append(files, f)
	}
	return files
}

// Sync makes every File open on the Cache durable, as if each one's Sync
// were called, all at once: their writebacks and flushes run in parallel
// (one goroutine per File, all gone when Sync returns). It is the
// checkpoint of an engine with many files. It returns nil when every File
// was synced (a File closed meanwhile counts: Close syncs), else an error
// wrapping ErrSyncFailed and every File's error.
func (c *Cache) Sync() error {
	files := c.openFiles()
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() {
			if err := f.Sync(); err != nil && !errors.Is(err, ErrClosed) {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrSyncFailed, err)
	}
	return nil
}

// CacheStats describe a Cache now.
type CacheStats struct {
	Size        int64 // the budget (NewCache)
	Files       int   // Files open on it
	CacheBudget int64 // the page cache's share of Size (0 while no File is open)
	CacheBytes  int64 // folio memory in use by all Files
	DirtyBytes  int64 // dirty folio memory of all Files
}

// Stats returns the Cache's figures.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := CacheStats{Size: c.size, Files: len(c.files)}
	if c.mem != nil {
		s.CacheBudget, s.CacheBytes, s.DirtyBytes = c.mem.pool.Budget(), c.mem.pool.Used(), c.mem.pool.DirtyBytes()
	}
	return s
}
