package extent

import (
	"fmt"
	"math"
)

var _ fmt.Stringer = Range{}

// Range is one dirty untorn range [Off, End) of a file with its generation.
// It is a 24-byte value stored by value in the Set's tree.
type Range struct {
	Off int64  // first byte of the range
	End int64  // one past the last byte of the range
	Gen uint64 // changes whenever the range changes; 0 for a range not in a Set
}

// Len returns the number of bytes in r.
func (r Range) Len() int64 { return r.End - r.Off }

// Contains reports whether off lies in r.
func (r Range) Contains(off int64) bool { return r.Off <= off && off < r.End }

// Overlaps reports whether r and [off, end) share at least one byte.
// Adjacent ranges do not overlap.
func (r Range) Overlaps(off, end int64) bool { return off < end && r.Off < end && off < r.End }

// String formats r as [Off, End)#Gen.
func (r Range) String() string { return fmt.Sprintf("[%d, %d)#%d", r.Off, r.End, r.Gen) }

// checkRange validates [off, end) as a range that can be added.
func checkRange(off, end int64) error {
	if off < 0 || end <= off {
		return fmt.Errorf("%w: [%d, %d)", ErrInvalidRange, off, end)
	}
	return nil
}

// rangeLess orders the tree. a sorts before b when a ends at or before b starts,
// so two ranges that overlap compare equal. The ranges stored in a Set are
// disjoint, so they are totally ordered by it; a key that overlaps stored ranges
// finds one of them (Get, Delete and ReplaceOrInsert return "one equal item"),
// and a one-byte key [x, x+1) finds the only range containing x. This lets one
// descent answer "does [off, end) overlap anything?".
//
// A key that overlaps several stored ranges must never be left in the tree: the
// tree would stop being ordered. Add keeps to that.
func rangeLess(a, b Range) bool { return a.End <= b.Off }

// probe returns the one-byte key [off, off+1) used to search for the range that
// contains off, and false when no range can contain off.
func probe(off int64) (Range, bool) {
	if off < 0 || off == math.MaxInt64 {
		return Range{}, false
	}
	return Range{Off: off, End: off + 1}, true
}
