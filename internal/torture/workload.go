package torture

import (
	"math/rand/v2"
)

// opKind is one kind of workload step.
type opKind uint8

const (
	opUntorn opKind = iota // atomicio.WriteAt
	opPlain                // (*File).WriteAt
	opRead                 // (*File).ReadAt, compared with the model
	opSync                 // (*File).Sync
)

func (k opKind) String() string {
	return [...]string{"untorn write", "plain write", "read", "sync"}[k]
}

// step is one operation of a workload.
type step struct {
	kind opKind
	off  int64
	n    int
}

// workloadSteps is the length of a generated workload.
const workloadSteps = 40

// genWorkload returns a random workload for a file of size bytes whose
// untorn writes may be up to maxAtomic bytes: untorn and plain writes of
// every shape (a few bytes, unaligned, whole pages, large), reads, and
// Syncs. Writes cluster around a few hot spots so that they overlap often.
func genWorkload(rng *rand.Rand, size int64, maxAtomic int) []step {
	hot := [3]int64{rng.Int64N(size), rng.Int64N(size), rng.Int64N(size)}
	steps := make([]step, 0, workloadSteps)
	for range workloadSteps {
		r := rng.IntN(100)
		switch {
		case r < 45:
			off, n := genRange(rng, size, maxAtomic, hot)
			steps = append(steps, step{kind: opUntorn, off: off, n: n})
		case r < 70:
			off, n := genRange(rng, size, 64<<10, hot)
			steps = append(steps, step{kind: opPlain, off: off, n: n})
		case r < 82:
			off, n := genRange(rng, size, 64<<10, hot)
			steps = append(steps, step{kind: opRead, off: off, n: n})
		default:
			steps = append(steps, step{kind: opSync})
		}
	}
	return steps
}

// genWrites returns n random writes, untorn and plain, with no Sync.
func genWrites(rng *rand.Rand, size int64, maxAtomic, n int) []step {
	hot := [3]int64{rng.Int64N(size), rng.Int64N(size), rng.Int64N(size)}
	steps := make([]step, n)
	for i := range steps {
		kind, limit := opUntorn, maxAtomic
		if rng.IntN(3) == 0 {
			kind, limit = opPlain, 64<<10
		}
		off, l := genRange(rng, size, limit, hot)
		steps[i] = step{kind: kind, off: off, n: l}
	}
	return steps
}

// genRange returns a range of at most max bytes within [0, size).
func genRange(rng *rand.Rand, size int64, limit int, hot [3]int64) (int64, int) {
	const page = 4096
	var n int
	switch r := rng.IntN(20); {
	case r < 5: // whole pages, aligned to their length
		n = page << rng.IntN(3)
		for n > limit {
			n /= 2
		}
		if n >= page {
			return rng.Int64N(size/int64(n)) * int64(n), n
		}
	case r < 9: // a few bytes
		n = 1 + rng.IntN(64)
	case r < 13: // under a page, unaligned
		n = 1 + rng.IntN(page)
	case r < 19: // a few pages, unaligned
		n = 1 + rng.IntN(4*page)
	default: // up to the limit, unaligned
		n = 1 + rng.IntN(limit)
	}
	n = min(n, limit, int(size))
	off := hot[rng.IntN(len(hot))] + rng.Int64N(8<<10) - 4<<10
	return max(0, min(off, size-int64(n))), n
}
