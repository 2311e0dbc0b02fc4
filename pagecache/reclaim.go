package pagecache

// Reclaim follows S3-FIFO (Yang et al., SOSP 2023): new folios enter a small FIFO holding
// about 10% of the memory; a folio leaving it unreferenced is evicted and its offset kept in
// a ghost queue, a referenced one moves to the main FIFO, which is a CLOCK (a referenced folio
// is reinserted with its count decremented). A folio whose offset is in the ghost queue enters
// the main FIFO directly. A one-time scan therefore only churns the small FIFO.
// Dirty, pinned and under-writeback folios are skipped (moved to the main FIFO's tail).

// fifo is a doubly linked list of folio ids through folio.prev/next.
type fifo struct {
	head, tail int32
	n          int
	bytes      int64
}

// reclaimQueues is guarded by Pool.memMu. The queues hold the folios of every cache of the
// pool; a ghost entry names its cache and offset.
type reclaimQueues struct {
	small, main fifo
	smallTarget int64
	ghost       map[ghostKey]uint64 // cache and offset -> ghost sequence number when it entered
	ghostRing   []ghostKey
	ghostSeq    uint64
}

// ghostKey names an evicted folio: its cache's id and its offset.
type ghostKey struct {
	cache uint32
	off   int64
}

func (q *reclaimQueues) init(a *arena) {
	q.small = fifo{head: -1, tail: -1}
	q.main = fifo{head: -1, tail: -1}
	q.smallTarget = max(a.size()/10, PageSize)
	q.ghostRing = make([]ghostKey, a.npages)
	q.ghost = make(map[ghostKey]uint64, a.npages)
}

func (p *Pool) fifoOf(which uint8) *fifo {
	if which == queueSmall {
		return &p.queues.small
	}
	return &p.queues.main
}

// pushLocked appends a folio in no queue to the tail of a queue.
// REQUIRES: memMu held.
func (p *Pool) pushLocked(id int32, which uint8) {
	f := &p.folios[id]
	q := p.fifoOf(which)
	f.queue, f.next, f.prev = which, -1, q.tail
	if q.tail >= 0 {
		p.folios[q.tail].next = id
	} else {
		q.head = id
	}
	q.tail = id
	q.n++
	q.bytes += f.size()
}

// unqueueLocked takes a folio off its queue, if any.
// REQUIRES: memMu held.
func (p *Pool) unqueueLocked(id int32) {
	f := &p.folios[id]
	if f.queue == queueNone {
		return
	}
	q := p.fifoOf(f.queue)
	if f.prev >= 0 {
		p.folios[f.prev].next = f.next
	} else {
		q.head = f.next
	}
	if f.next >= 0 {
		p.folios[f.next].prev = f.prev
	} else {
		q.tail = f.prev
	}
	q.n--
	q.bytes -= f.size()
	f.queue = queueNone
}

// enqueueNewLocked queues a folio just inserted in the index.
// REQUIRES: memMu held.
func (p *Pool) enqueueNewLocked(id int32) {
	f := &p.folios[id]
	key := ghostKey{f.owner.id, f.off}
	if _, ok := p.queues.ghost[key]; ok {
		delete(p.queues.ghost, key)
		p.pushLocked(id, queueMain)
		return
	}
	p.pushLocked(id, queueSmall)
}

// ghostAddLocked remembers a folio evicted from the small queue.
// REQUIRES: memMu held.
func (p *Pool) ghostAddLocked(key ghostKey) {
	q := &p.queues
	slot := q.ghostSeq % uint64(len(q.ghostRing))
	if q.ghostSeq >= uint64(len(q.ghostRing)) {
		old := q.ghostRing[slot]
		if seq, ok := q.ghost[old]; ok && seq == q.ghostSeq-uint64(len(q.ghostRing)) {
			delete(q.ghost, old)
		}
	}
	q.ghostRing[slot] = key
	q.ghost[key] = q.ghostSeq
	q.ghostSeq++
}

// evictOneLocked evicts one clean, unused folio. It reports false when none can be.
// REQUIRES: memMu held.
func (p *Pool) evictOneLocked() bool {
	q := &p.queues
	for budget := 4*(q.small.n+q.main.n) + 4; budget > 0; budget-- {
		fromSmall := q.small.n > 0 && (q.small.bytes >= q.smallTarget || q.main.n == 0)
		var id int32
		switch {
		case fromSmall:
			id = q.small.head
		case q.main.n > 0:
			id = q.main.head
		default:
			return false
		}
		f := &p.folios[id]
		p.unqueueLocked(id)
		if fromSmall {
			if f.freq.Load() > 0 {
				p.pushLocked(id, queueMain)
				continue
			}
		} else if v := f.freq.Load(); v > 0 {
			f.freq.Store(v - 1)
			p.pushLocked(id, queueMain)
			continue
		}
		key := ghostKey{f.owner.id, f.off}
		if p.tryEvictLocked(id) {
			if fromSmall {
				p.ghostAddLocked(key)
			}
			return true
		}
		p.pushLocked(id, queueMain)
	}
	return false
}

// tryEvictLocked removes a queued-off folio from its cache's index and frees it if it is
// clean and unused.
// REQUIRES: memMu held, the folio in no queue.
func (p *Pool) tryEvictLocked(id int32) bool {
	f := &p.folios[id]
	s := f.owner.shardOf(f.off)
	s.mu.Lock()
	st := f.state.Load()
	if st&(stateDirty|stateWriteback) != 0 || st&stateIndexed == 0 || f.writers != 0 || f.pins.Load() != 0 {
		s.mu.Unlock()
		return false
	}
	s.setLocked(f, -1)
	f.state.Store(0)
	s.mu.Unlock()
	p.freeFolioLocked(id)
	return true
}

// Reclaim evicts clean, unused folios of the pool (of this cache or any other) until at
// least target bytes are freed or none is left to evict, and returns the bytes freed.
func (c *Cache) Reclaim(target int64) int64 {
	if c.closed.Load() {
		return 0
	}
	return c.pool.Reclaim(target)
}
