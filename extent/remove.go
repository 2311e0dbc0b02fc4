package extent

import "fmt"

// Remove deletes r from s if s still holds it unchanged: same bounds and same
// generation. It returns false, and changes nothing, when the range was modified
// (merged, extended, written into, clipped) or removed since r was read; that
// range must stay dirty.
func (s *Set) Remove(r Range) bool {
	key, ok := probe(r.Off)
	if !ok {
		return false
	}
	// One descent when r is current, the common case after a writeback.
	cur, ok := s.tree.Delete(key)
	if !ok {
		return false
	}
	if cur != r {
		s.tree.ReplaceOrInsert(cur) // stale: put the current range back
		return false
	}
	s.bytes -= r.Len()
	return true
}

// Truncate drops every range at or past size and clips a range that crosses
// size to end there; a clipped range gets a new generation. A negative size is
// refused with an error wrapping ErrInvalidSize.
func (s *Set) Truncate(size int64) error {
	if size < 0 {
		return fmt.Errorf("%w: %d", ErrInvalidSize, size)
	}
	if size == 0 {
		s.tree.Clear(false)
		s.bytes = 0
		return nil
	}
	for {
		last, ok := s.tree.Max()
		if !ok || last.End <= size {
			return nil
		}
		s.tree.DeleteMax()
		s.bytes -= last.Len()
		if last.Off < size {
			clipped := Range{Off: last.Off, End: size, Gen: s.nextGen()}
			s.tree.ReplaceOrInsert(clipped)
			s.bytes += clipped.Len()
			return nil
		}
	}
}
