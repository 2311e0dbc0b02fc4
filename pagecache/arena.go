package pagecache

import (
	"fmt"

	"github.com/untorn/untorn/blockdev"
)

const (
	pageShift = 12
	// PageSize is the smallest folio size and the alignment of folio memory.
	PageSize = 1 << pageShift
	// maxOrder is the order of the largest folio: 4 KiB << 9 = 2 MiB.
	maxOrder = 9
	// MaxFolioSize is the largest folio size.
	MaxFolioSize = PageSize << maxOrder
)

// arena is one anonymous private mapping carved into folio memory by a buddy allocator.
// Blocks are runs of 1<<order pages starting at a page index aligned to 1<<order.
// It is not safe for concurrent use: Cache.memMu guards it.
type arena struct {
	mem      []byte // folio memory: raw from its first 2 MiB boundary on
	raw      []byte // the whole mapping (mapArena)
	npages   int32
	maxOrd   int     // largest order of a block: maxOrder for folios
	topOrder int     // largest order of any block the arena can hold
	freeHead []int32 // per order: first free block, -1 if none
	next     []int32 // per page: next free block of the same order (valid when freeOrd != 0)
	prev     []int32
	freeOrd  []int8 // per page: order+1 when a free block starts at the page, else 0
	used     int64  // bytes handed out
	// limit: only pages below it are handed out; free blocks at or beyond
	// it are withheld, their memory given back to the OS (arena_limit.go).
	limit    int32
	withheld []block
}

func newArena(size int64, prefault bool) (*arena, error) {
	return newArenaOrder(size, prefault, maxOrder)
}

// newArenaOrder is newArena with blocks of up to 1<<maxOrd pages.
func newArenaOrder(size int64, prefault bool, maxOrd int) (*arena, error) {
	npages := size >> pageShift
	if npages <= 0 || npages > 1<<30 || maxOrd < 0 || maxOrd > 30 {
		return nil, fmt.Errorf("arena of %d bytes: %w", size, ErrInvalid)
	}
	mem, raw, err := mapArena(npages<<pageShift, prefault)
	if err != nil {
		return nil, err
	}
	a := &arena{
		mem:      mem,
		raw:      raw,
		npages:   int32(npages),
		maxOrd:   maxOrd,
		freeHead: make([]int32, maxOrd+1),
		next:     make([]int32, npages),
		prev:     make([]int32, npages),
		freeOrd:  make([]int8, npages),
	}
	for i := range a.freeHead {
		a.freeHead[i] = -1
	}
	a.limit = a.npages
	// Carve the pages into maximal aligned blocks; buddies of the tail merge correctly
	// because every block boundary is aligned to the block's size. They are pushed from
	// the top down, so that the lowest comes out first: memory is taken from the bottom,
	// where it stays when a Pool lowers the limit (arena_limit.go).
	var blocks []block
	for p := int32(0); p < a.npages; {
		k := maxOrd
		for k > 0 && (p%(1<<k) != 0 || p+(1<<k) > a.npages) {
			k--
		}
		a.topOrder = max(a.topOrder, k)
		blocks = append(blocks, block{p, int8(k)})
		p += 1 << k
	}
	for i := len(blocks) - 1; i >= 0; i-- {
		a.push(blocks[i].p, int(blocks[i].k))
	}
	return a, nil
}

func (a *arena) push(p int32, k int) {
	a.freeOrd[p] = int8(k + 1)
	a.prev[p] = -1
	a.next[p] = a.freeHead[k]
	if h := a.freeHead[k]; h >= 0 {
		a.prev[h] = p
	}
	a.freeHead[k] = p
}

func (a *arena) unlink(p int32, k int) {
	a.freeOrd[p] = 0
	if a.prev[p] >= 0 {
		a.next[a.prev[p]] = a.next[p]
	} else {
		a.freeHead[k] = a.next[p]
	}
	if a.next[p] >= 0 {
		a.prev[a.next[p]] = a.prev[p]
	}
}

// alloc returns the first page of a free block of 1<<k pages.
func (a *arena) alloc(k int) (int32, bool) {
	j := k
	for j <= a.maxOrd && a.freeHead[j] < 0 {
		j++
	}
	if j > a.maxOrd {
		return 0, false
	}
	p := a.freeHead[j]
	a.unlink(p, j)
	for j > k {
		j--
		a.push(p+1<<j, j)
	}
	a.used += PageSize << k
	return p, true
}

// free returns the block of 1<<k pages at p, merging it with free buddies
// (see put). It returns the parts of it at or beyond the limit, which are
// withheld now: the caller gives their memory back to the OS.
func (a *arena) free(p int32, k int) []block {
	a.used -= PageSize << k
	return a.put(p, k, nil)
}

// bytes is the memory of the block of 1<<k pages at p.
func (a *arena) bytes(p int32, k int) []byte {
	lo := int64(p) << pageShift
	hi := lo + PageSize<<k
	return a.mem[lo:hi:hi]
}

func (a *arena) size() int64 { return int64(a.npages) << pageShift }

func (a *arena) unmap() error {
	if a.mem == nil {
		return nil
	}
	err := blockdev.UnmapMemory(a.raw)
	a.mem, a.raw = nil, nil
	if err != nil {
		return fmt.Errorf("pagecache: %w", err)
	}
	return nil
}
