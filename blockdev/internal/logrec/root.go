package logrec

import (
	"cmp"
	"slices"
)

// Two roots, as bbolt has two meta pages: a backend keeps its root (the
// container's superblock, the journal's header) in two copies, and copy k
// only ever holds roots of a generation g with g%2 == k. Writing a new root
// (generation g+1) therefore never touches the newest valid one, so a power
// cut at any moment, also during the recovery of an earlier cut, leaves at
// least one intact root; and space that only the older root still names
// may be reused once the newer root is durable.

// RootCopies is the number of root copies.
const RootCopies = 2

// RootCopy returns the copy a root of generation gen is written to.
func RootCopy(gen uint64) int { return int(gen % RootCopies) }

// NewestFirst sorts the valid root copies of a device by generation,
// newest first: a backend tries them in that order.
func NewestFirst[R any](roots []R, gen func(R) uint64) {
	slices.SortStableFunc(roots, func(a, b R) int { return -cmp.Compare(gen(a), gen(b)) })
}
