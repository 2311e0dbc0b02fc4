package extent

import (
	"github.com/stretchr/testify/require"
)

// testingT is what both *testing.T and *rapid.T offer.
type testingT interface {
	require.TestingT
	Helper()
	Cleanup(func())
}

// newTestSet returns an empty Set of the given tree degree whose invariants are
// checked when the test ends.
func newTestSet(t testingT, degree int) *Set {
	t.Helper()
	s := newWithDegree(degree)
	t.Cleanup(func() { checkInvariants(t, s) })
	return s
}

// checkInvariants fails t unless the ranges of s are valid, disjoint and in
// ascending order, their generations are unique, non-zero and handed out
// already, and Len and Bytes agree with them.
func checkInvariants(t testingT, s *Set) {
	t.Helper()
	var (
		n     int
		bytes int64
		prev  Range
		gens  = make(map[uint64]Range)
	)
	s.Ascend(func(r Range) bool {
		require.GreaterOrEqual(t, r.Off, int64(0), "range %v: negative offset", r)
		require.Greater(t, r.End, r.Off, "range %v: empty", r)
		if n > 0 {
			// Adjacent ranges (prev.End == r.Off) are allowed: they are separate units.
			require.LessOrEqual(t, prev.End, r.Off, "ranges %v and %v overlap or are out of order", prev, r)
		}
		require.NotZero(t, r.Gen, "range %v: generation 0", r)
		require.LessOrEqual(t, r.Gen, s.gen, "range %v: generation not handed out yet", r)
		other, dup := gens[r.Gen]
		require.False(t, dup, "ranges %v and %v share a generation", other, r)
		gens[r.Gen] = r
		got, ok := s.Get(r.Off)
		require.True(t, ok, "Get(%d) misses %v", r.Off, r)
		require.Equal(t, r, got)
		n++
		bytes += r.Len()
		prev = r
		return true
	})
	require.Equal(t, n, s.Len(), "Len")
	require.Equal(t, bytes, s.Bytes(), "Bytes")
}

// rangesOf returns the ranges of s in order.
func rangesOf(s *Set) []Range {
	var out []Range
	s.Ascend(func(r Range) bool {
		out = append(out, r)
		return true
	})
	return out
}
