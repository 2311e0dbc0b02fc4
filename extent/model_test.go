package extent

// model is the naive reference for Set: a sorted slice with the same merge
// semantics. A range whose Gen is 0 in the model changed in the last operation
// and must carry a generation the Set never handed out before.
type model struct {
	ranges []Range // sorted, disjoint; Gen 0 marks a range just changed
	maxGen uint64  // the largest generation seen so far
}

// overlapping returns the ranges sharing a byte with [off, end), in order.
func (m *model) overlapping(off, end int64) []Range {
	var out []Range
	for _, r := range m.ranges {
		if r.Overlaps(off, end) {
			out = append(out, r)
		}
	}
	return out
}

// union returns the union Add(off, end) would produce and how many ranges it merges.
func (m *model) union(off, end int64) (Range, int) {
	u := Range{Off: off, End: end}
	over := m.overlapping(off, end)
	for _, r := range over {
		u.Off = min(u.Off, r.Off)
		u.End = max(u.End, r.End)
	}
	return u, len(over)
}

// add merges [off, end) in and returns the union (Gen 0: it changed).
func (m *model) add(off, end int64) Range {
	u, _ := m.union(off, end)
	var next []Range
	inserted := false
	for _, r := range m.ranges {
		if r.Overlaps(off, end) {
			continue
		}
		if !inserted && r.Off >= u.End {
			next = append(next, u)
			inserted = true
		}
		next = append(next, r)
	}
	if !inserted {
		next = append(next, u)
	}
	m.ranges = next
	return u
}

// remove deletes r if the model holds exactly r.
func (m *model) remove(r Range) bool {
	for i, cur := range m.ranges {
		if cur == r {
			m.ranges = append(m.ranges[:i:i], m.ranges[i+1:]...)
			return true
		}
	}
	return false
}

// truncate drops ranges at or past size and clips one crossing it.
func (m *model) truncate(size int64) {
	var next []Range
	for _, r := range m.ranges {
		switch {
		case r.Off >= size:
		case r.End > size:
			next = append(next, Range{Off: r.Off, End: size})
		default:
			next = append(next, r)
		}
	}
	m.ranges = next
}

// get returns the range containing off.
func (m *model) get(off int64) (Range, bool) {
	for _, r := range m.ranges {
		if r.Contains(off) {
			return r, true
		}
	}
	return Range{}, false
}

// bytes returns the sum of the lengths.
func (m *model) bytes() int64 {
	var n int64
	for _, r := range m.ranges {
		n += r.Len()
	}
	return n
}
