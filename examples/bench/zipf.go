package main

import (
	"math/rand/v2"
)

const (
	// zipfS is the exponent of the skewed workloads' Zipf distribution:
	// rank k (from 0) is drawn with probability proportional to
	// (1+k)^-zipfS.
	zipfS = 1.1
	// scatterSeed seeds the permutation that maps Zipf ranks to pages. It
	// is fixed, not the run's seed, so the hot pages are the same in every
	// repetition and for every contender.
	scatterSeed = 0x7a697066 // "zipf"
)

// Distributions of a workload's pages (workload.Dist).
const (
	distUniform = "uniform"
	distZipf    = "zipf"
)

// scatter returns a fixed pseudo-random permutation of [0, pages): rank k
// of a Zipf draw is page scatter(pages)[k], so the hot pages lie all over
// the file instead of at its start. The same pages give the same
// permutation in every call.
func scatter(pages int64) []int64 {
	perm := make([]int64, pages)
	for i := range perm {
		perm[i] = int64(i)
	}
	r := rand.New(rand.NewPCG(scatterSeed, uint64(pages)))
	r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	return perm
}

// zipfPages draws page numbers in [0, pages) whose ranks follow a Zipf
// distribution with exponent zipfS, scattered over the file by scatter.
type zipfPages struct {
	z    *rand.Zipf // nil with a single page
	perm []int64
}

// newZipfPages draws from r over pages pages (at least one).
func newZipfPages(r *rand.Rand, pages int64) zipfPages {
	p := zipfPages{perm: scatter(pages)}
	if pages > 1 {
		p.z = rand.NewZipf(r, zipfS, 1, uint64(pages-1))
	}
	return p
}

// next draws a page number.
func (p zipfPages) next() int64 {
	if p.z == nil {
		return p.perm[0]
	}
	return p.perm[p.z.Uint64()]
}
