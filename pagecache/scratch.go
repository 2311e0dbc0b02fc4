package pagecache

import (
	"context"
	"fmt"
	"math/bits"
	"sync"
)

// Scratch is memory for I/O buffers (reads that miss, buffers a write is
// assembled in) taken out of a memory budget: one anonymous mapping of a
// fixed size, mapped (and with prefault touched) once, carved by a buddy
// allocator into naturally aligned power-of-two blocks of at least
// PageSize bytes. Handing out a buffer never allocates and never maps
// more memory: when the blocks are in use, Get waits for a Put and TryGet
// fails. A budget holder therefore counts Size once, whatever the number
// of callers.
//
// Limits: a request is rounded up to a power of two of pages, so a buffer
// may hold up to twice what was asked for; blocks are PageSize aligned
// (not more); fragmentation can make a large request wait while enough
// small blocks are free. Every method is safe for concurrent use, except
// that Close must not run while buffers are out.
type Scratch struct {
	mu      sync.Mutex // guards everything below
	mem     *arena
	wake    chan struct{} // closed by the next Put (when waiters > 0)
	waiters int
	peak    int64
	closed  bool
}

// ScratchBuf is one buffer of a Scratch: Data has the length asked for.
// Give it back with Put exactly once.
type ScratchBuf struct {
	Data  []byte
	page  int32
	order int8
}

// ScratchStats describe a Scratch.
type ScratchStats struct {
	Size  int64 // the mapping: the most that is ever handed out
	InUse int64 // bytes of the blocks handed out now
	Peak  int64 // the most InUse has been
}

// NewScratch maps a Scratch of size bytes, rounded down to a power of two
// of at least PageSize; with prefault every page is touched now.
func NewScratch(size int64, prefault bool) (*Scratch, error) {
	if size < PageSize {
		return nil, fmt.Errorf("scratch of %d bytes: %w", size, ErrInvalid)
	}
	order := bits.Len64(uint64(size>>pageShift)) - 1
	mem, err := newArenaOrder(PageSize<<order, prefault, order)
	if err != nil {
		return nil, err
	}
	return &Scratch{mem: mem, wake: make(chan struct{})}, nil
}

// Size is the scratch memory in bytes, the largest buffer it can give.
func (s *Scratch) Size() int64 { return s.mem.size() }

// Stats returns the size, the bytes in use and their peak.
func (s *Scratch) Stats() ScratchStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ScratchStats{Size: s.mem.size(), InUse: s.mem.used, Peak: s.peak}
}

// orderOf returns the block order of an n-byte request.
func orderOf(n int) int {
	pages := (n + PageSize - 1) >> pageShift
	return bits.Len(uint(max(pages, 1) - 1))
}

// TryGet returns a buffer of n bytes (0 < n <= Size) if a block is free.
func (s *Scratch) TryGet(n int) (ScratchBuf, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || n <= 0 || int64(n) > s.mem.size() {
		return ScratchBuf{}, false
	}
	return s.allocLocked(n)
}

// Get returns a buffer of n bytes, waiting for a Put while no block is
// free, until ctx is done. It fails at once, wrapping ErrTooLarge, when n
// exceeds Size, and with ErrClosed after Close.
func (s *Scratch) Get(ctx context.Context, n int) (ScratchBuf, error) {
	if n <= 0 || int64(n) > s.mem.size() {
		return ScratchBuf{}, fmt.Errorf("scratch buffer of %d bytes out of %d: %w", n, s.mem.size(), ErrTooLarge)
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ScratchBuf{}, ErrClosed
		}
		if b, ok := s.allocLocked(n); ok {
			s.mu.Unlock()
			return b, nil
		}
		s.waiters++
		ch := s.wake
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ScratchBuf{}, fmt.Errorf("scratch buffer of %d bytes: %w: %w", n, ErrNoMemory, ctx.Err())
		}
	}
}

// allocLocked takes a block for n bytes.
// REQUIRES: s.mu held, 0 < n <= Size.
func (s *Scratch) allocLocked(n int) (ScratchBuf, bool) {
	k := orderOf(n)
	p, ok := s.mem.alloc(k)
	if !ok {
		return ScratchBuf{}, false
	}
	s.peak = max(s.peak, s.mem.used)
	return ScratchBuf{Data: s.mem.bytes(p, k)[:n], page: p, order: int8(k)}, true
}

// Put gives b back and wakes the callers waiting in Get.
func (s *Scratch) Put(b ScratchBuf) {
	if b.Data == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.mem.free(b.page, int(b.order))
	if s.waiters > 0 {
		close(s.wake)
		s.wake = make(chan struct{})
		s.waiters = 0
	}
}

// Close unmaps the memory; Get then fails with ErrClosed. No buffer may be
// out (its memory goes away).
func (s *Scratch) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	close(s.wake)
	return s.mem.unmap()
}
