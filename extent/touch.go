package extent

// Touch gives r a new generation if s still holds it unchanged (same bounds
// and generation, as Get returned it) and returns the refreshed range; it
// is Add(off, end) for an [off, end) that r contains, in two B-tree
// descents fewer counting the Get. It returns false, and changes nothing,
// when r is not in s as it was.
func (s *Set) Touch(r Range) (Range, bool) {
	if checkRange(r.Off, r.End) != nil {
		return Range{}, false
	}
	nr := Range{Off: r.Off, End: r.End, Gen: s.gen + 1}
	cur, replaced := s.tree.ReplaceOrInsert(nr)
	switch {
	case !replaced: // nothing overlapped r: undo the insert
		s.tree.Delete(nr)
		return Range{}, false
	case cur != r:
		// nr took the place of one range it overlaps; put that one back
		// (it compares equal to nr, so the search ends at nr's slot).
		s.tree.ReplaceOrInsert(cur)
		return Range{}, false
	}
	s.gen++
	return nr, true
}
