package extent

// Add records [off, end) as a dirty untorn range and returns the range of s that
// now covers it. When [off, end) overlaps ranges of s they are replaced by their
// union (one atomic unit); ranges merely adjacent to it are left alone. The
// returned range always has a new generation, also when [off, end) lies inside
// an existing range: its bounds stay but its content changed.
func (s *Set) Add(off, end int64) (Range, error) {
	if err := checkRange(off, end); err != nil {
		return Range{}, err
	}
	r := Range{Off: off, End: end, Gen: s.nextGen()}

	// One descent in the common case: r overlaps nothing and is inserted.
	old, replaced := s.tree.ReplaceOrInsert(r)
	if !replaced {
		s.bytes += r.Len()
		return r, nil
	}
	// r took the place of old, one range it overlaps.
	if old.Off <= off && end <= old.End {
		// r lies inside old, so it overlaps nothing else and the tree is still
		// ordered: widen r back to old's bounds in the same place.
		r.Off, r.End = old.Off, old.End
		s.tree.ReplaceOrInsert(r)
		return r, nil
	}
	// r may overlap ranges beside old, which would leave the tree unordered. Put
	// old back first: searching for old compares it with every stored range as
	// it did before, and old and r compare equal, so the search ends at r's slot.
	s.tree.ReplaceOrInsert(old)
	return s.merge(r), nil
}

// merge replaces the n >= 1 ranges that overlap r by their union with r, which
// takes r's generation, and returns that union.
func (s *Set) merge(r Range) Range {
	u, n := s.union(r.Off, r.End)
	u.Gen = r.Gen
	key := Range{Off: u.Off, End: u.End}
	// Each Delete removes one of the ranges overlapping key (u overlaps no other
	// range: the ranges are disjoint). Keep the last one for u to replace.
	for range n - 1 {
		old, _ := s.tree.Delete(key)
		s.bytes -= old.Len()
	}
	old, _ := s.tree.ReplaceOrInsert(u)
	s.bytes += u.Len() - old.Len()
	return u
}

// union returns the union of [off, end) with the ranges it overlaps, Gen 0,
// and the number of those ranges.
func (s *Set) union(off, end int64) (Range, int) {
	u := Range{Off: off, End: end}
	n := 0
	s.Overlapping(off, end, func(r Range) bool {
		u.Off = min(u.Off, r.Off)
		u.End = max(u.End, r.End)
		n++
		return true
	})
	return u, n
}

// UnionIfAdded returns the range Add(off, end) would leave covering [off, end),
// with Gen 0 since it is not in s, and the number of ranges of s it would merge.
// It changes nothing. A caller that cannot write the union untorn writes those
// ranges back (see Overlapping) before it adds.
func (s *Set) UnionIfAdded(off, end int64) (Range, int, error) {
	if err := checkRange(off, end); err != nil {
		return Range{}, 0, err
	}
	u, n := s.union(off, end)
	return u, n, nil
}
