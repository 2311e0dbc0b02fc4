package main

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pageCounts counts the ops of a plan per page, most used first.
func pageCounts(ops []op, pageSize int) (pages []int64, counts map[int64]int) {
	counts = map[int64]int{}
	for _, o := range ops {
		p := o.off / int64(pageSize)
		if counts[p] == 0 {
			pages = append(pages, p)
		}
		counts[p]++
	}
	slices.SortFunc(pages, func(a, b int64) int {
		if c := counts[b] - counts[a]; c != 0 {
			return c
		}
		return int(a - b)
	})
	return pages, counts
}

// topShare is the share of ops that went to the hottest n pages.
func topShare(ops []op, pageSize, n int) float64 {
	pages, counts := pageCounts(ops, pageSize)
	top := 0
	for _, p := range pages[:min(n, len(pages))] {
		top += counts[p]
	}
	return float64(top) / float64(len(ops))
}

// TestScatter checks the rank-to-page map is a permutation, the same in
// every call, and no near-identity.
func TestScatter(t *testing.T) {
	const pages = 1000
	perm := scatter(pages)
	require.Equal(t, perm, scatter(pages), "fixed: the same pages give the same permutation")
	sorted := slices.Clone(perm)
	slices.Sort(sorted)
	for i, p := range sorted {
		require.Equal(t, int64(i), p, "a permutation of [0, pages)")
	}
	fixed := 0
	for i, p := range perm {
		if int64(i) == p {
			fixed++
		}
	}
	assert.Less(t, fixed, 20, "ranks are scattered, not mapped to themselves")
	assert.Equal(t, []int64{0}, scatter(1))
	z := newZipfPages(nil, 1)
	assert.Equal(t, int64(0), z.next(), "a one-page file has one page to draw")
}

// TestZipfPlan checks zipf-16k's plans: deterministic from the seed,
// writes only, skewed (the hottest 1% of the pages take well over 1% of
// the ops), with hot pages that lie all over the file and are the same in
// every repetition.
func TestZipfPlan(t *testing.T) {
	const size, ops = 64 << 20, 20000
	w, err := makeWorkload("zipf-16k", size, 8<<20, ops, 64)
	require.NoError(t, err)
	assert.Equal(t, distZipf, w.Dist)
	assert.Zero(t, w.ReadPct)
	assert.Zero(t, w.Warm)
	assert.Equal(t, int64(size), w.WorkingSet)
	assert.Contains(t, w.Desc, "Zipf (s=1.1")
	pages := int(size / w.PageSize)

	a := w.plan(3)
	require.Equal(t, a, w.plan(3), "the same seed gives every contender the same operations")
	b := w.plan(4)
	require.NotEqual(t, a, b, "each repetition draws its own ranks")
	for _, o := range a {
		require.False(t, o.read)
		require.Zero(t, o.off%int64(w.PageSize))
		require.GreaterOrEqual(t, o.off, int64(0))
		require.Less(t, o.off, w.WorkingSet)
	}

	// About 59% of the draws go to the hottest 1% of 4096 ranks with s = 1.1;
	// uniform draws would give them about 2%.
	hot := pages / 100
	assert.Greater(t, topShare(a, w.PageSize, hot), 0.40, "the hottest 1% of the pages take most ops")
	u, err := makeWorkload("write-16k", size, 8<<20, ops, 64)
	require.NoError(t, err)
	assert.Equal(t, distUniform, u.Dist)
	assert.Less(t, topShare(u.plan(3), u.PageSize, hot), 0.05, "uniform plans are not skewed")

	// The hot pages are scattered: about as many in each half of the
	// file, few in its first 10%.
	hotA, _ := pageCounts(a, w.PageSize)
	hotA = hotA[:hot]
	first10, firstHalf := 0, 0
	for _, p := range hotA {
		if p < int64(pages/10) {
			first10++
		}
		if p < int64(pages/2) {
			firstHalf++
		}
	}
	assert.Less(t, first10, hot/4, "hot pages %v crowd the start of the file", hotA)
	assert.InDelta(t, hot/2, firstHalf, float64(hot)/4, "hot pages %v lie in one half of the file", hotA)

	// The same pages are hot in every repetition: ranks map to pages
	// through a fixed permutation.
	hotB, _ := pageCounts(b, w.PageSize)
	perm := scatter(int64(pages))
	assert.Equal(t, perm[0], hotA[0], "the hottest page is rank 0's")
	assert.Equal(t, perm[0], hotB[0], "in every repetition")
	common := 0
	for _, p := range hotB[:hot] {
		if slices.Contains(hotA, p) {
			common++
		}
	}
	assert.Greater(t, common, hot*3/4, "the hottest pages of two repetitions are mostly the same")

	// The distribution is in the JSON report.
	j, err := json.Marshal(w)
	require.NoError(t, err)
	assert.Contains(t, string(j), `"distribution":"zipf"`)
}

// TestYCSBAPlan checks ycsb-a: about half reads, Zipf keys over the whole
// file, and a warm-up that reads the hottest pages (the cache budget's
// worth), hottest first or in file order.
func TestYCSBAPlan(t *testing.T) {
	const size, cache, ops = 64 << 20, 8 << 20, 10000
	w, err := makeWorkload("ycsb-a", size, cache, ops, 64)
	require.NoError(t, err)
	assert.Equal(t, distZipf, w.Dist)
	assert.Equal(t, 50, w.ReadPct)
	assert.Equal(t, int64(size), w.WorkingSet)
	assert.Equal(t, int64(cache), w.Warm)
	assert.Contains(t, w.Desc, "50% reads / 50% updates")

	a := w.plan(9)
	require.Equal(t, a, w.plan(9))
	reads := 0
	var rops, wops []op
	for _, o := range a {
		require.Less(t, o.off, w.WorkingSet)
		if o.read {
			reads++
			rops = append(rops, o)
		} else {
			wops = append(wops, o)
		}
	}
	assert.InDelta(t, ops/2, reads, ops*0.03, "about 50% reads")
	hot := int(size / w.PageSize / 100)
	assert.Greater(t, topShare(rops, w.PageSize, hot), 0.40, "reads are skewed")
	assert.Greater(t, topShare(wops, w.PageSize, hot), 0.40, "updates are skewed")

	perm := scatter(w.WorkingSet / int64(w.PageSize))
	warm := w.warmOrder(9)
	require.Len(t, warm, int(cache/w.PageSize))
	for i, off := range warm {
		require.Equal(t, perm[i]*int64(w.PageSize), off, "the warm-up reads the hottest pages, hottest first")
	}
	w.WarmSeq = true
	seq := w.warmOrder(9)
	assert.True(t, slices.IsSorted(seq), "-warm-sequential reads them in file order")
	assert.ElementsMatch(t, warm, seq)
}
