// Package extent is the side-car of dirty untorn (atomic) ranges of one file,
// kept beside the page cache. It is a pure data structure: no I/O, no locks.
//
// A [Set] holds byte ranges [Off, End) that are dirty and must reach the device
// whole or not at all. Its guarantees:
//
//   - The ranges are disjoint and kept in ascending order of offset.
//   - Adding a range that overlaps existing ones replaces them by their union:
//     two untorn writes that overlap while both are dirty become one atomic unit.
//     Adjacent ranges (one's End equal to the other's Off) are NOT merged: two
//     adjacent untorn writes are independent units. [Set.UnionIfAdded] tells, before
//     an add, how large the union would be, so that a caller can write the old
//     range back first when the union would exceed what can be written untorn.
//   - Every change to a range (add, merge, a write inside it, a clip by
//     [Set.Truncate]) gives it a new generation. Generations come from one counter
//     per Set, so they are never reused and 0 is never assigned. Writeback removes
//     a range with [Set.Remove] only if its generation still matches the one it
//     wrote; a range modified meanwhile stays dirty.
//   - [Set.Len] and [Set.Bytes] are kept incrementally and cost O(1). Add, Remove
//     and Get cost O(log n); a merge of k ranges costs O(k log n).
//
// Caveats: the Set puts no upper bound on the size of a union; a caller that
// needs one asks UnionIfAdded before it adds. Bad input (a negative offset, an
// empty or inverted range, a negative size) is refused with an error wrapping
// [ErrInvalidRange] or [ErrInvalidSize] and changes nothing; queries over an
// empty interval simply find nothing. The zero Set is not usable: call [New].
//
// A Set is not safe for concurrent use: its owner serialises every call under its
// own lock.
package extent
