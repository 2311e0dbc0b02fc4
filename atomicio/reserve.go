package atomicio

import (
	"time"

	"github.com/untorn/untorn/blockdev/cow"
)

// What a shared Cache's size covers besides the pages. Each File holds
// memory of its own on the Go heap: its cache's index, its COW container's
// maps (8 bytes per 4 KiB of file size) and buffers, its engine. With
// hundreds of Files that is far from nothing, so a shared Cache reserves
// it in its pool (pagecache.Pool.SetReserve), together with the pool's own
// descriptors: the pages get what is left, and the Files and their pages
// stay within Size together. A File's figure is taken when it opens and
// again, at most once per recountEvery, when it syncs (its maps grow with
// its size), and it is reserved twice: Go's collector (at its default
// GOGC=100) lets the heap grow to twice what is live before it collects,
// and with 200 COW files opening that slack showed as peaks of 10-15% of a
// 64 MiB Cache over its size when counted once. The pages always keep at
// least a quarter of the pool. A
// File's own Cache (no Options.Cache) keeps its older rule instead: the
// container's maps are taken out of CacheSize once, when it opens.

// fileOverhead is the memory a File holds besides its index and its
// container: the File, its engine and side-car, the flusher's stack, the
// device's own structures.
const fileOverhead = 56 << 10

// heapSlack is what the Go heap's RSS can reach per live byte (GOGC=100).
const heapSlack = 5 // quarters

// recountEvery is how often a File's held memory is counted again.
const recountEvery = time.Second

// heldBytes is the memory f holds outside its Cache's pool.
func (f *File) heldBytes() int64 {
	n := fileOverhead + f.cache.IndexBytes()
	if d, ok := f.dev.(*cow.Device); ok {
		n += d.HeldBytes()
	}
	return n
}

// count counts f's held memory again and reserves the Files' total in the
// pool (a shared Cache only).
func (c *Cache) count(f *File) {
	if c.own {
		return
	}
	f.countedAt.Store(time.Now().UnixNano())
	n := f.heldBytes()
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.files[f]
	if !ok || old == n {
		return
	}
	c.files[f] = n
	c.held += n - old
	c.reserveLocked()
}

// recount counts f again when it was last counted over recountEvery ago.
func (c *Cache) recount(f *File) {
	if !c.own && time.Since(time.Unix(0, f.countedAt.Load())) >= recountEvery {
		c.count(f)
	}
}

// reserveLocked reserves the Files' held memory and the pool's own in the
// pool.
// REQUIRES: c.mu held.
func (c *Cache) reserveLocked() {
	if c.own || c.mem == nil {
		return
	}
	c.mem.pool.SetReserve((c.held + c.mem.pool.MetadataBytes()) * heapSlack / 4)
}
