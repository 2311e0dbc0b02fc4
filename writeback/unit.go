package writeback

import (
	"math/bits"

	"github.com/untorn/untorn/extent"
	"github.com/untorn/untorn/pagecache"
)

// unitOf returns the unit [lo, hi) an untorn write of [off, end) must be
// written back in.
//
// Native mode (RWF_ATOMIC in place): the smallest naturally aligned power
// of two of at least minUnit bytes that covers the range, since an atomic
// write must be a power of two at an offset that is a multiple of its
// length. COW mode: the range rounded out to whole pages, since a batch
// commit takes any block-aligned pieces.
func (e *Engine) unitOf(off, end int64) (int64, int64) {
	if e.batch != nil {
		return floorTo(off, pagecache.PageSize), ceilTo(end, pagecache.PageSize)
	}
	return pow2Cover(off, end, e.minUnit)
}

// UnitOf returns the unit [lo, hi) an untorn write of [off, end) is
// written back in (see unitOf).
func (e *Engine) UnitOf(off, end int64) (int64, int64) { return e.unitOf(off, end) }

// pow2Cover returns the smallest naturally aligned power-of-two interval of
// at least minLen (a power of two) bytes that covers [off, end).
func pow2Cover(off, end, minLen int64) (int64, int64) {
	l := max(minLen, int64(1)<<bits.Len64(uint64(end-off-1)))
	for off/l != (end-1)/l {
		l *= 2
	}
	lo := off &^ (l - 1)
	return lo, lo + l
}

// unionLocked returns the unit that adding the untorn unit [lo, hi) would
// leave in the side-car: its union with the units it overlaps, grown (in
// native mode) to the power-of-two unit covering that union, until stable.
// It also returns how many dirty units the union absorbs.
// REQUIRES: e.mu held.
func (e *Engine) unionLocked(lo, hi int64) (extent.Range, int, error) {
	for {
		u, n, err := e.ranges.UnionIfAdded(lo, hi)
		if err != nil {
			return extent.Range{}, 0, err
		}
		nlo, nhi := e.unitOf(u.Off, u.End)
		if nlo == lo && nhi == hi {
			return u, n, nil
		}
		lo, hi = nlo, nhi
	}
}

func floorTo(v, a int64) int64 { return v - v%a }
func ceilTo(v, a int64) int64  { return floorTo(v+a-1, a) }
