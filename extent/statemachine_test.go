package extent

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// universe bounds the offsets the state machine draws, small enough that
// overlaps and adjacency are common.
const universe = 512

// machine drives a Set and the model side by side.
type machine struct {
	s    *Set
	m    model
	seen []Range // every range the Set ever held, for stale removals
}

func TestSetStateMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Small degrees give deep trees from few ranges, so multi-level
		// searches, splits and merges of nodes are exercised.
		degree := rapid.SampledFrom([]int{2, 3, 4, treeDegree}).Draw(t, "degree")
		mc := &machine{s: newTestSet(t, degree)}
		t.Repeat(map[string]func(*rapid.T){
			"":             mc.check,
			"add":          mc.add,
			"addInside":    mc.addInside,
			"addAdjacent":  mc.addAdjacent,
			"addInvalid":   mc.addInvalid,
			"removeGen":    mc.removeCurrent,
			"removeStale":  mc.removeStale,
			"removeBadGen": mc.removeBadGen,
			"truncate":     mc.truncate,
			"overlapping":  mc.overlapping,
			"ascend":       mc.ascend,
			"get":          mc.get,
			"unionIfAdded": mc.unionIfAdded,
			"touch":        mc.touch,
		})
	})
}

// check runs before and after every action: the invariants hold, the Set holds
// the model's ranges, ranges the model left alone kept their generation, and a
// range the model changed got a generation never handed out before.
func (mc *machine) check(t *rapid.T) {
	checkInvariants(t, mc.s)
	got := rangesOf(mc.s)
	require.Len(t, got, len(mc.m.ranges), "ranges: set %v, model %v", got, mc.m.ranges)
	require.Equal(t, mc.m.bytes(), mc.s.Bytes())
	maxGen := mc.m.maxGen
	for i, want := range mc.m.ranges {
		g := got[i]
		require.Equal(t, [2]int64{want.Off, want.End}, [2]int64{g.Off, g.End}, "range %d: set %v, model %v", i, got, mc.m.ranges)
		if want.Gen != 0 {
			require.Equal(t, want.Gen, g.Gen, "range %v changed generation but not content", g)
			continue
		}
		require.Greater(t, g.Gen, mc.m.maxGen, "changed range %v reuses an old generation", g)
		mc.m.ranges[i].Gen = g.Gen
		mc.seen = append(mc.seen, g)
		maxGen = max(maxGen, g.Gen)
	}
	mc.m.maxGen = maxGen
}

// drawRange draws a valid range inside the universe.
func drawRange(t *rapid.T) (off, end int64) {
	off = rapid.Int64Range(0, universe).Draw(t, "off")
	end = off + rapid.Int64Range(1, 64).Draw(t, "len")
	return off, end
}

// drawCurrent draws one of the ranges the Set holds, skipping when there is none.
func (mc *machine) drawCurrent(t *rapid.T) Range {
	if len(mc.m.ranges) == 0 {
		t.Skip("no ranges")
	}
	return rapid.SampledFrom(mc.m.ranges).Draw(t, "range")
}

func (mc *machine) addRange(t *rapid.T, off, end int64) {
	wantUnion, wantN := mc.m.union(off, end)
	u, n, err := mc.s.UnionIfAdded(off, end)
	require.NoError(t, err)
	require.Equal(t, wantUnion, u, "UnionIfAdded(%d, %d)", off, end)
	require.Equal(t, wantN, n)

	got, err := mc.s.Add(off, end)
	require.NoError(t, err)
	want := mc.m.add(off, end)
	require.Equal(t, [2]int64{want.Off, want.End}, [2]int64{got.Off, got.End}, "Add(%d, %d)", off, end)
	require.Greater(t, got.Gen, mc.m.maxGen, "Add(%d, %d) = %v: generation not new", off, end, got)
	held, ok := mc.s.Get(got.Off)
	require.True(t, ok)
	require.Equal(t, got, held, "Add returned a range the Set does not hold")
}

func (mc *machine) add(t *rapid.T) {
	off, end := drawRange(t)
	mc.addRange(t, off, end)
}

// addInside writes into a dirty range, possibly over all of it.
func (mc *machine) addInside(t *rapid.T) {
	r := mc.drawCurrent(t)
	off := rapid.Int64Range(r.Off, r.End-1).Draw(t, "off")
	end := rapid.Int64Range(off+1, r.End).Draw(t, "end")
	mc.addRange(t, off, end)
}

// addAdjacent writes right before or right after a dirty range.
func (mc *machine) addAdjacent(t *rapid.T) {
	r := mc.drawCurrent(t)
	n := rapid.Int64Range(1, 32).Draw(t, "len")
	if rapid.Bool().Draw(t, "after") || r.Off < n {
		mc.addRange(t, r.End, r.End+n)
		return
	}
	mc.addRange(t, r.Off-n, r.Off)
}

func (mc *machine) addInvalid(t *rapid.T) {
	var off, end int64
	if rapid.Bool().Draw(t, "negative") {
		off = rapid.Int64Range(-64, -1).Draw(t, "off")
		end = rapid.Int64Range(-64, universe).Draw(t, "end")
	} else {
		off = rapid.Int64Range(0, universe).Draw(t, "off")
		end = rapid.Int64Range(off-64, off).Draw(t, "end")
	}
	_, err := mc.s.Add(off, end)
	require.ErrorIs(t, err, ErrInvalidRange, "Add(%d, %d)", off, end)
	_, _, err = mc.s.UnionIfAdded(off, end)
	require.ErrorIs(t, err, ErrInvalidRange, "UnionIfAdded(%d, %d)", off, end)
}

func (mc *machine) removeCurrent(t *rapid.T) {
	r := mc.drawCurrent(t)
	require.True(t, mc.s.Remove(r), "Remove(%v) of a current range", r)
	require.True(t, mc.m.remove(r))
}

// removeStale removes a range seen before, current or not: it succeeds exactly
// when the range is still unchanged.
func (mc *machine) removeStale(t *rapid.T) {
	if len(mc.seen) == 0 {
		t.Skip("nothing seen")
	}
	r := rapid.SampledFrom(mc.seen).Draw(t, "range")
	want := mc.m.remove(r)
	require.Equal(t, want, mc.s.Remove(r), "Remove(%v)", r)
}

// removeBadGen removes a current range with a generation it does not have.
func (mc *machine) removeBadGen(t *rapid.T) {
	r := mc.drawCurrent(t)
	if rapid.Bool().Draw(t, "older") {
		r.Gen--
	} else {
		r.Gen += rapid.Uint64Range(1, 8).Draw(t, "delta")
	}
	require.False(t, mc.s.Remove(r), "Remove(%v) with a wrong generation", r)
}

func (mc *machine) truncate(t *rapid.T) {
	size := rapid.Int64Range(-2, universe+64).Draw(t, "size")
	err := mc.s.Truncate(size)
	if size < 0 {
		require.ErrorIs(t, err, ErrInvalidSize)
		return
	}
	require.NoError(t, err)
	mc.m.truncate(size)
}

// collect gathers up to stop ranges from a visit with an early-stop callback.
func collect(stop int, visit func(func(Range) bool)) []Range {
	var out []Range
	visit(func(r Range) bool {
		out = append(out, r)
		return len(out) < stop
	})
	return out
}

func (mc *machine) overlapping(t *rapid.T) {
	off := rapid.Int64Range(-8, universe+64).Draw(t, "off")
	end := rapid.Int64Range(off-8, universe+128).Draw(t, "end")
	stop := rapid.IntRange(1, 8).Draw(t, "stop")
	want := mc.m.overlapping(off, end)
	if len(want) > stop {
		want = want[:stop]
	}
	got := collect(stop, func(fn func(Range) bool) { mc.s.Overlapping(off, end, fn) })
	require.Equal(t, want, got, "Overlapping(%d, %d) stopping after %d", off, end, stop)
}

func (mc *machine) ascend(t *rapid.T) {
	stop := rapid.IntRange(1, 8).Draw(t, "stop")
	want := append([]Range(nil), mc.m.ranges[:min(stop, len(mc.m.ranges))]...)
	got := collect(stop, mc.s.Ascend)
	require.Equal(t, want, got, "Ascend stopping after %d", stop)
}

func (mc *machine) get(t *rapid.T) {
	off := rapid.Int64Range(-2, universe+64).Draw(t, "off")
	want, wantOK := mc.m.get(off)
	got, ok := mc.s.Get(off)
	require.Equal(t, wantOK, ok, "Get(%d)", off)
	require.Equal(t, want, got, "Get(%d)", off)
}

func (mc *machine) unionIfAdded(t *rapid.T) {
	off, end := drawRange(t)
	wantUnion, wantN := mc.m.union(off, end)
	u, n, err := mc.s.UnionIfAdded(off, end)
	require.NoError(t, err)
	require.Equal(t, wantUnion, u, "UnionIfAdded(%d, %d)", off, end)
	require.Equal(t, wantN, n, "UnionIfAdded(%d, %d) count", off, end)
}

// touch refreshes a range seen before, current or not, or a made-up one: it
// succeeds exactly when the model holds the range unchanged, and then only
// that range's generation changes (check verifies it is new).
func (mc *machine) touch(t *rapid.T) {
	var r Range
	if len(mc.seen) > 0 && rapid.Bool().Draw(t, "seen") {
		r = rapid.SampledFrom(mc.seen).Draw(t, "range")
	} else {
		r.Off, r.End = drawRange(t)
		r.Gen = rapid.Uint64Range(0, mc.m.maxGen+1).Draw(t, "gen")
	}
	idx := -1
	for i, cur := range mc.m.ranges {
		if cur == r {
			idx = i
		}
	}
	got, ok := mc.s.Touch(r)
	require.Equal(t, idx >= 0, ok, "Touch(%v)", r)
	if ok {
		require.Equal(t, [2]int64{r.Off, r.End}, [2]int64{got.Off, got.End})
		mc.m.ranges[idx].Gen = 0 // changed: check records the new generation
	}
}
