package main

import (
	"math"
	"math/rand/v2"
)

// The pg-checkpoint workload: a PostgreSQL-shaped data directory. 8 KiB
// pages in relation files of 16-256 MiB (one file per table and index),
// written by a skewed choice of pages, in writes that combine up to 16
// neighbouring pages (128 KiB, PostgreSQL's io_combine_limit), with a
// checkpoint every so many MiB of writes that makes every file durable.

const (
	pgPage    = 8 << 10  // PostgreSQL's block size
	pgCombine = 16       // pages one write combines at most (io_combine_limit 128 KiB)
	pgSeed    = 0x706773 // "pgs": the relations' sizes and hot pages are the same in every run
)

// relation is one relation file.
type relation struct {
	Size int64 `json:"size"`
}

// pgRelations returns n relation sizes, log-uniform between maxSize/16 and
// maxSize (16-256 MiB by default), whole pages, the same in every run.
func pgRelations(n int, maxSize int64) []relation {
	r := rand.New(rand.NewPCG(pgSeed, uint64(n)))
	rels := make([]relation, n)
	for i := range rels {
		size := float64(maxSize) / 16 * math.Pow(16, r.Float64())
		rels[i].Size = max(int64(size)/pgPage*pgPage, pgPage)
	}
	return rels
}

// pgWrite is one write: pages [page, page+n) of relation rel.
type pgWrite struct {
	rel, page, n int
}

// pgPlan draws the writes of one run, total bytes of them: a relation by
// Zipf over the relations (the hot ones scattered among them), a page in
// it by Zipf over its pages (scattered over the file), then half the time
// that page alone and otherwise a run of 2 to pgCombine pages from it,
// clipped to the file. The ranks' places are fixed (pgSeed), the draws
// come from seed.
func pgPlan(rels []relation, total int64, seed uint64) []pgWrite {
	r := rand.New(rand.NewPCG(seed, pgSeed))
	relOf := newZipfPages(r, int64(len(rels)))
	pagesOf := make([]zipfPages, len(rels))
	for i, rel := range rels {
		pagesOf[i] = newZipfPages(r, rel.Size/pgPage)
	}
	var plan []pgWrite
	for written := int64(0); written < total; {
		rel := int(relOf.next())
		pages := int(rels[rel].Size / pgPage)
		w := pgWrite{rel: rel, page: int(pagesOf[rel].next()), n: 1}
		if r.IntN(2) == 1 {
			w.n = 2 + r.IntN(pgCombine-1)
		}
		w.n = min(w.n, pages-w.page)
		plan = append(plan, w)
		written += int64(w.n) * pgPage
	}
	return plan
}
