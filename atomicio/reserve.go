package atomicio

import (
	"time"
)

// What a shared Cache's size covers besides the pages. Each File holds
// memory of its own on the Go heap: its cache's index, its COW container's
// maps (8 bytes per 4 KiB of file size) and buffers, its engine. With
// hundreds of Files that is far from nothing, so a shared Cache reserves
// it in its pool (pagecache.Pool.SetReserve), together with the pool's own
// descriptors: the pages get what is left, and the Files and their pages
// stay within Size together. A File's figure is taken when it opens and
// again, at most once per recountEvery, when it syncs (its maps grow with
// its size), and a quarter more is reserved for the Go heap's slack: the
// collector lets garbage pile up before it collects. Measured with 200 COW
// files of 16 MiB on a 64 MiB Cache (TestRSSOf200FilesOnACache): counted
// once, the peaks reached 10-15% over the Cache's size; with the quarter
// (and memory taken from the bottom of the pool's arena, which a reserve
// gives back from the top), 64-67 MiB of a 70.4 MiB bound. fileOverhead was
// measured the same way (the heap's in-use bytes over what IndexBytes and
// HeldBytes count). The pages always keep at least a quarter of the pool.
// A File's own Cache (no Options.Cache) keeps its older rule instead: the
// container's maps are taken out of CacheSize once, when it opens.

// fileOverhead is the memory a File holds besides its index and its
// container: the File, its engine and side-car, the flusher's stack, the
// device's own structures.
const fileOverhead = 56 << 10

// heapSlack is the Go heap's RSS reserved per byte counted, in quarters.
const heapSlack = 5

// recountEvery is how often a File's held memory is counted again.
const recountEvery = time.Second

// heldBytes is the memory f holds outside its Cache's pool.
func (f *File) heldBytes() int64 {
	n := fileOverhead + f.cache.IndexBytes()
	if d, ok := f.dev.(memoryUser); ok {
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
