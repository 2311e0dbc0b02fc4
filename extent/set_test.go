package extent

import (
	"math"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// mustAdd adds [off, end) to s and fails t on error.
func mustAdd(t *testing.T, s *Set, off, end int64) Range {
	t.Helper()
	r, err := s.Add(off, end)
	require.NoError(t, err)
	return r
}

// bounds returns the bounds of the ranges of s, generations left out.
func bounds(s *Set) [][2]int64 {
	var out [][2]int64
	s.Ascend(func(r Range) bool {
		out = append(out, [2]int64{r.Off, r.End})
		return true
	})
	return out
}

func TestRangeIs24Bytes(t *testing.T) {
	require.Equal(t, uintptr(24), unsafe.Sizeof(Range{}), "the tree stores ranges by value")
}

func TestAddAdjacentNotMerged(t *testing.T) {
	s := newTestSet(t, treeDegree)
	a := mustAdd(t, s, 4096, 8192)
	b := mustAdd(t, s, 8192, 12288) // right after a
	c := mustAdd(t, s, 0, 4096)     // right before a
	require.Equal(t, [][2]int64{{0, 4096}, {4096, 8192}, {8192, 12288}}, bounds(s))
	require.Equal(t, 3, s.Len())
	require.Equal(t, int64(12288), s.Bytes())
	require.Equal(t, []Range{c, a, b}, rangesOf(s), "adding a neighbour changed a range")

	u, n, err := s.UnionIfAdded(12288, 16384)
	require.NoError(t, err)
	require.Equal(t, Range{Off: 12288, End: 16384}, u)
	require.Zero(t, n)
}

func TestAddInsideBumpsGeneration(t *testing.T) {
	s := newTestSet(t, treeDegree)
	first := mustAdd(t, s, 0, 8192)
	inside := mustAdd(t, s, 100, 200)
	require.Equal(t, Range{Off: 0, End: 8192, Gen: inside.Gen}, inside, "bounds must stay")
	require.Greater(t, inside.Gen, first.Gen, "a write inside a dirty range changes its content")

	same := mustAdd(t, s, 0, 8192) // exactly the same bounds
	require.Greater(t, same.Gen, inside.Gen)
	require.Equal(t, 1, s.Len())
	require.Equal(t, int64(8192), s.Bytes())

	require.False(t, s.Remove(first), "a range written into after writeback started must stay dirty")
	require.False(t, s.Remove(inside))
	require.True(t, s.Remove(same))
	require.Zero(t, s.Len())
	require.Zero(t, s.Bytes())
}

func TestAddMergesMany(t *testing.T) {
	s := newTestSet(t, 2) // degree 2: the ten ranges span several tree levels
	var olds []Range
	for i := range int64(10) {
		olds = append(olds, mustAdd(t, s, i*100, i*100+50))
	}
	mustAdd(t, s, 2000, 2100) // well past the merge: must survive unchanged
	keep := olds[0]

	u, n, err := s.UnionIfAdded(120, 930)
	require.NoError(t, err)
	require.Equal(t, Range{Off: 100, End: 950}, u)
	require.Equal(t, 9, n)
	require.Equal(t, 11, s.Len(), "UnionIfAdded must change nothing")

	got := mustAdd(t, s, 120, 930) // overlaps ranges 1..9 partially at both ends
	require.Equal(t, int64(100), got.Off)
	require.Equal(t, int64(950), got.End)
	require.Equal(t, [][2]int64{{0, 50}, {100, 950}, {2000, 2100}}, bounds(s))
	require.Equal(t, int64(50+850+100), s.Bytes())
	for _, old := range olds[1:] {
		require.Less(t, old.Gen, got.Gen)
		require.False(t, s.Remove(old), "merged range %v removed", old)
	}
	held, ok := s.Get(0)
	require.True(t, ok)
	require.Equal(t, keep, held, "a range the merge did not touch changed")

	// A range covering everything swallows all of them.
	all := mustAdd(t, s, 0, 3000)
	require.Equal(t, []Range{all}, rangesOf(s))
	require.Equal(t, int64(3000), s.Bytes())
}

func TestBadInput(t *testing.T) {
	s := newTestSet(t, treeDegree)
	r := mustAdd(t, s, 10, 20)
	for _, bad := range [][2]int64{{-1, 10}, {5, 5}, {20, 10}, {math.MinInt64, 0}, {0, math.MinInt64}} {
		_, err := s.Add(bad[0], bad[1])
		require.ErrorIs(t, err, ErrInvalidRange, "Add(%d, %d)", bad[0], bad[1])
		_, _, err = s.UnionIfAdded(bad[0], bad[1])
		require.ErrorIs(t, err, ErrInvalidRange, "UnionIfAdded(%d, %d)", bad[0], bad[1])
	}
	require.ErrorIs(t, s.Truncate(-1), ErrInvalidSize)
	require.Equal(t, []Range{r}, rangesOf(s), "bad input changed the set")
	require.False(t, s.Remove(Range{Off: -1, End: 5, Gen: r.Gen}))
	require.False(t, s.Remove(Range{}))

	// Queries over empty intervals or impossible offsets find nothing.
	_, ok := s.Get(-1)
	require.False(t, ok)
	_, ok = s.Get(math.MaxInt64)
	require.False(t, ok)
	s.Overlapping(20, 10, func(Range) bool {
		t.Fatal("Overlapping visited a range of an inverted interval")
		return false
	})
	s.Overlapping(15, 15, func(Range) bool {
		t.Fatal("Overlapping visited a range of an empty interval")
		return false
	})
}

func TestRangeAtTheEndOfInt64(t *testing.T) {
	s := newTestSet(t, treeDegree)
	r := mustAdd(t, s, math.MaxInt64-100, math.MaxInt64)
	got, ok := s.Get(math.MaxInt64 - 1)
	require.True(t, ok)
	require.Equal(t, r, got)
	var seen []Range
	s.Overlapping(math.MaxInt64-1, math.MaxInt64, func(r Range) bool {
		seen = append(seen, r)
		return true
	})
	require.Equal(t, []Range{r}, seen)
	require.True(t, s.Remove(r))
}

func TestRemoveStaleGeneration(t *testing.T) {
	s := newTestSet(t, treeDegree)
	a := mustAdd(t, s, 0, 100)
	b := mustAdd(t, s, 200, 300)

	// Writeback read a; then a write extended it.
	extended := mustAdd(t, s, 50, 150)
	require.False(t, s.Remove(a), "stale generation removed a range")
	require.Equal(t, 2, s.Len())

	// Same bounds, other generation: refused.
	require.False(t, s.Remove(Range{Off: extended.Off, End: extended.End, Gen: extended.Gen + 1}))
	// Same generation, other bounds: refused.
	require.False(t, s.Remove(Range{Off: extended.Off, End: extended.End - 1, Gen: extended.Gen}))

	// A merge moves the start: the old range is gone at its offset too.
	merged := mustAdd(t, s, 120, 250)
	require.Equal(t, Range{Off: 0, End: 300, Gen: merged.Gen}, merged)
	require.False(t, s.Remove(b))
	require.False(t, s.Remove(extended))
	require.True(t, s.Remove(merged))
	require.False(t, s.Remove(merged), "removed twice")
	require.Zero(t, s.Len())
}

func TestTruncateClips(t *testing.T) {
	s := newTestSet(t, 2)
	a := mustAdd(t, s, 0, 10)
	b := mustAdd(t, s, 20, 30)
	mustAdd(t, s, 40, 50)
	mustAdd(t, s, 60, 70)

	require.NoError(t, s.Truncate(25))
	clipped, ok := s.Get(20)
	require.True(t, ok)
	require.Equal(t, int64(25), clipped.End)
	require.Greater(t, clipped.Gen, b.Gen, "a clipped range changed")
	require.False(t, s.Remove(b))
	require.Equal(t, [][2]int64{{0, 10}, {20, 25}}, bounds(s))
	require.Equal(t, int64(15), s.Bytes())

	// A size at a range's end or in a gap changes nothing.
	before := rangesOf(s)
	require.NoError(t, s.Truncate(25))
	require.NoError(t, s.Truncate(1000))
	require.Equal(t, before, rangesOf(s))

	require.NoError(t, s.Truncate(20)) // at a range's start: dropped
	require.Equal(t, []Range{a}, rangesOf(s))

	require.NoError(t, s.Truncate(0))
	require.Zero(t, s.Len())
	require.Zero(t, s.Bytes())
	again := mustAdd(t, s, 0, 10)
	require.Greater(t, again.Gen, clipped.Gen, "generations reused after Truncate(0)")
}

func TestQueriesStopEarly(t *testing.T) {
	s := newTestSet(t, 2)
	var all []Range
	for i := range int64(20) {
		all = append(all, mustAdd(t, s, i*10, i*10+5))
	}
	got, ok := s.Get(34)
	require.True(t, ok)
	require.Equal(t, all[3], got)
	_, ok = s.Get(35) // End is exclusive
	require.False(t, ok)

	var seen []Range
	s.Overlapping(33, 10_000, func(r Range) bool {
		seen = append(seen, r)
		return len(seen) < 3
	})
	require.Equal(t, all[3:6], seen)

	seen = nil
	s.Overlapping(35, 60, func(r Range) bool { // starts in a gap, ends at a start
		seen = append(seen, r)
		return true
	})
	require.Equal(t, all[4:6], seen)

	seen = nil
	s.Ascend(func(r Range) bool {
		seen = append(seen, r)
		return len(seen) < 4
	})
	require.Equal(t, all[:4], seen)
}
