package pagecache

// An arena can hand out less than it maps: pages at or beyond its limit
// are withheld. A Pool lowers the limit to make room, in its budget, for
// memory held elsewhere (Pool.SetReserve) and raises it again when that
// memory goes. Free blocks never reach beyond the limit: lowering it takes
// the free blocks beyond it out of the free lists (splitting a block that
// crosses it), and a block freed beyond it is withheld instead of freed;
// the memory of withheld blocks is given back to the OS by the caller.
// Blocks in use beyond the limit stay until they are freed. Raising the
// limit puts the withheld blocks below it back into the free lists.

// block is a run of 1<<k pages at page p.
type block struct {
	p int32
	k int8
}

// put adds the free block of 1<<k pages at p to the free lists, merged with
// its free buddies while the merged block stays below the limit, and
// appends the parts of it at or beyond the limit to out (and to the
// withheld blocks).
func (a *arena) put(p int32, k int, out []block) []block {
	switch end := p + 1<<k; {
	case p >= a.limit:
		a.withheld = append(a.withheld, block{p, int8(k)})
		return append(out, block{p, int8(k)})
	case end > a.limit:
		out = a.put(p, k-1, out)
		return a.put(p+1<<(k-1), k-1, out)
	}
	for k < a.maxOrd {
		b := p ^ (1 << k)
		if m := min(p, b); m+2<<k > a.limit || b+(1<<k) > a.npages || a.freeOrd[b] != int8(k+1) {
			break
		}
		a.unlink(b, k)
		p = min(p, b)
		k++
	}
	a.push(p, k)
	return out
}

// setLimit makes pages [0, limit) the ones handed out (limit is clamped to
// [0, npages]). Lowering it returns the free blocks it withholds now
// (their memory is to be given back to the OS); raising it returns nil and
// puts the withheld blocks below the new limit back into the free lists.
func (a *arena) setLimit(limit int32) []block {
	limit = min(max(limit, 0), a.npages)
	switch {
	case limit < a.limit:
		var beyond []block
		for k := range a.freeHead {
			for p := a.freeHead[k]; p >= 0; p = a.next[p] {
				if p+1<<k > limit {
					beyond = append(beyond, block{p, int8(k)})
				}
			}
		}
		for _, b := range beyond {
			a.unlink(b.p, int(b.k))
		}
		a.limit = limit
		var out []block
		for _, b := range beyond {
			out = a.put(b.p, int(b.k), out)
		}
		return out
	case limit > a.limit:
		a.limit = limit
		held := a.withheld
		a.withheld = nil
		for _, b := range held {
			a.put(b.p, int(b.k), nil)
		}
	}
	return nil
}

// limitBytes is the memory below the limit.
func (a *arena) limitBytes() int64 { return int64(a.limit) << pageShift }

// blockBytes is the memory of a block.
func (a *arena) blockBytes(b block) []byte { return a.bytes(b.p, int(b.k)) }
