package extent

import "github.com/google/btree"

// treeDegree is the B-tree degree: nodes hold degree-1 to 2*degree-1 ranges.
// Benchmarked at 1M ranges (16, 32, 64): 32 gives the best mix of add, remove
// and lookup cost at under 64 bytes per range.
const treeDegree = 32

// Set is the set of dirty untorn ranges of one file: disjoint, ordered, each
// with a generation. The zero value is not usable; call New.
type Set struct {
	tree  *btree.BTreeG[Range] // the ranges, disjoint, ordered by rangeLess
	bytes int64                // sum of the lengths of the ranges in tree
	gen   uint64               // last generation handed out; the next is gen+1
}

// New returns an empty Set.
func New() *Set { return newWithDegree(treeDegree) }

// newWithDegree returns an empty Set whose tree has the given degree.
func newWithDegree(degree int) *Set {
	return &Set{tree: btree.NewG(degree, rangeLess)}
}

// Len returns the number of ranges in s.
func (s *Set) Len() int { return s.tree.Len() }

// Bytes returns the sum of the lengths of the ranges in s.
func (s *Set) Bytes() int64 { return s.bytes }

// Get returns the range that contains off, and false when there is none.
func (s *Set) Get(off int64) (Range, bool) {
	key, ok := probe(off)
	if !ok {
		return Range{}, false
	}
	return s.tree.Get(key)
}

// Ascend calls fn for every range in ascending order until fn returns false.
// fn must not modify s.
func (s *Set) Ascend(fn func(Range) bool) {
	s.tree.Ascend(fn)
}

// Overlapping calls fn, in ascending order, for every range that shares at least
// one byte with [off, end), until fn returns false. It calls nothing when
// end <= off. fn must not modify s.
func (s *Set) Overlapping(off, end int64, fn func(Range) bool) {
	if end <= off {
		return
	}
	// The ranges that end after off, in order: the first may start before off
	// (it contains off); stop at the first that starts at or after end.
	// end > off, so off < MaxInt64 and off+1 does not overflow.
	s.tree.AscendGreaterOrEqual(Range{Off: off, End: off + 1}, func(r Range) bool {
		if r.Off >= end {
			return false
		}
		return fn(r)
	})
}

// nextGen hands out a generation never used before in s.
func (s *Set) nextGen() uint64 {
	s.gen++
	return s.gen
}
