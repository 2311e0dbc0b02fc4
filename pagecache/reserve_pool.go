package pagecache

import (
	"github.com/untorn/untorn/blockdev"
)

// The reserve. A pool's budget can stand for more than its folios: a
// caller that holds memory for the files the caches serve (their indexes,
// the maps of a COW container) reserves it in the pool, and the caches get
// what is left. The pool then hands out only the memory below its arena's
// limit (see arena_limit.go) and gives the rest back to the OS, so that
// the caches and what the reserve stands for stay within the budget
// together.

// minShare is the least part of the budget the caches keep, whatever the
// reserve: a reserve beyond the rest is not honoured.
const minShare = 4

// SetReserve reserves n bytes of the budget for memory held outside the
// pool: the caches may then hold Budget() = the budget NewPool rounded
// less n (at least a quarter of it), and the default dirty thresholds are
// the usual fractions of that. Lowering the budget evicts the clean,
// unused folios that lie beyond it at once and gives their memory back to
// the OS; a dirty or busy one stays until it is evicted later, so the
// folio memory can exceed the new budget for a while. Raising it makes the
// memory usable again (touched again at once with Prefault).
func (p *Pool) SetReserve(n int64) {
	if p.closed.Load() {
		return
	}
	p.memMu.Lock()
	defer p.memMu.Unlock()
	npages := p.mem.npages
	limit := max(npages-int32(min((max(n, 0)+PageSize-1)>>pageShift, int64(npages))), npages/minShare)
	old := p.mem.limit
	if limit == old {
		return
	}
	p.releaseLocked(p.mem.setLimit(limit))
	p.budget.Store(p.mem.limitBytes())
	p.setThresholds()
	if limit < old {
		p.evictBeyondLocked()
	} else if p.prefault {
		_ = blockdev.Populate(p.mem.mem[int64(old)<<pageShift : int64(limit)<<pageShift])
	}
	p.wakeLocked()
}

// evictBeyondLocked evicts the clean, unused folios that reach beyond the
// arena's limit (their memory is withheld as they are freed).
// REQUIRES: memMu held.
func (p *Pool) evictBeyondLocked() {
	for id := range p.folios {
		p.evictIfBeyondLocked(int32(id))
	}
}

// evictIfBeyondLocked evicts folio id, which just became clean, if it
// reaches beyond the arena's limit and nobody uses it: the memory SetReserve
// took goes back as soon as the folios in it are written back.
// REQUIRES: memMu held, the folio's shard.mu not held.
func (p *Pool) evictIfBeyondLocked(id int32) {
	f := &p.folios[id]
	if f.queue == queueNone || f.page+int32(1)<<f.order <= p.mem.limit {
		return
	}
	q := f.queue
	p.unqueueLocked(id)
	if !p.tryEvictLocked(id) {
		p.pushLocked(id, q)
	}
}

// releaseLocked gives the memory of withheld blocks back to the OS.
// REQUIRES: memMu held.
func (p *Pool) releaseLocked(blocks []block) {
	for _, b := range blocks {
		blockdev.ReleaseMemory(p.mem.blockBytes(b))
	}
}
