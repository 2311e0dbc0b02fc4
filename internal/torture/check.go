package torture

import (
	"math"
	"strconv"
)

// Checker checks device images against a Model. It keeps its scratch
// buffers between checks; it is not safe for concurrent use.
type Checker struct {
	// Per byte, 0 meaning none: lo and hi name the oldest and the newest
	// write whose pattern matches the byte, need the newest synced write
	// covering it. A write is named by its index in the history plus 2; 1
	// names the baseline.
	lo, hi, need []uint16
}

// maxCheckWrites is the most writes a Checker can tell apart.
const maxCheckWrites = math.MaxUint16 - 1

// Check verifies img, the whole content of a file found after a crash (or
// a fault, or a flipped bit), against what m promised at snap. It returns
// nil or a *Violation of class Phantom, Lost or Torn (or Unexpected for an
// image of the wrong size).
//
// Each byte is traced to the set of writes whose pattern matches it there
// (the zero baseline counting as write 0), of which only the oldest and
// the newest are kept. Then:
//   - phantom: no write matches a byte;
//   - lost: the newest write that matches a byte is older than the newest
//     synced write covering it;
//   - torn: an untorn write W has one byte that only W or later writes
//     explain and another that only writes before W explain.
func (c *Checker) Check(m *Model, snap Snapshot, img []byte) error {
	size := m.Size()
	switch {
	case int64(len(img)) != size:
		return violation(Unexpected, nil, "image of %d bytes, file of %d", len(img), size)
	case snap.N > maxCheckWrites:
		return violation(Unexpected, nil, "%d writes, a Checker tells %d apart", snap.N, maxCheckWrites)
	}
	c.reset(size)
	lo, hi, need := c.lo, c.hi, c.need
	if m.base == nil {
		for b, v := range img {
			if v == 0 {
				lo[b], hi[b] = 1, 1
			}
		}
	} else {
		for b, v := range img {
			if v == m.base[b] {
				lo[b], hi[b] = 1, 1
			}
		}
	}
	writes := m.Writes()[:snap.N]
	for i := range writes {
		w := &writes[i]
		if w.Dropped {
			continue
		}
		id1 := uint16(i + 2)
		seg := img[w.Off:w.End()]
		l, h := lo[w.Off:w.End()], hi[w.Off:w.End()]
		for j, v := range w.Data {
			if seg[j] == v {
				if l[j] == 0 {
					l[j] = id1
				}
				h[j] = id1
			}
		}
		if i < snap.Synced {
			n := need[w.Off:w.End()]
			for j := range n {
				n[j] = id1
			}
		}
	}
	for b, h := range hi {
		switch {
		case h == 0:
			return violation(Phantom, nil, "byte %#x at offset %d: no write put it there (baseline %#x)", img[b], b, m.baseAt(int64(b)))
		case h < need[b]:
			return violation(Lost, nil, "offset %d shows %s (newest match), write %d was synced", b, name(writes, h), writes[need[b]-2].ID)
		}
	}
	for i := range writes {
		w := &writes[i]
		if !w.Untorn || w.Dropped {
			continue
		}
		if err := tornAt(writes, i, lo, hi); err != nil {
			return err
		}
	}
	return nil
}

// tornAt reports whether untorn write writes[i] is torn: one byte of its
// range is explained only by it or later writes, another only by earlier
// ones. lo and hi are those of Checker, with no byte unmatched.
func tornAt(writes []Write, i int, lo, hi []uint16) error {
	w := &writes[i]
	id1 := uint16(i + 2)
	newer, older := -1, -1
	l, h := lo[w.Off:w.End()], hi[w.Off:w.End()]
	for j := range l {
		if l[j] >= id1 && newer < 0 {
			newer = j
		}
		if h[j] < id1 && older < 0 {
			older = j
		}
		if newer >= 0 && older >= 0 {
			return violation(Torn, nil, "untorn write %d [%d, %d): offset %d shows write %d or later, offset %d only older data (newest match: %s)",
				w.ID, w.Off, w.End(), w.Off+int64(newer), writes[l[newer]-2].ID, w.Off+int64(older), name(writes, h[older]))
		}
	}
	return nil
}

// name names the write a lo, hi or need entry stands for.
func name(writes []Write, v uint16) string {
	if v <= 1 {
		return "the baseline"
	}
	return "write " + strconv.Itoa(writes[v-2].ID)
}

// reset sizes the scratch buffers for a file of size bytes, all zero.
func (c *Checker) reset(size int64) {
	if int64(len(c.lo)) != size {
		c.lo, c.hi, c.need = make([]uint16, size), make([]uint16, size), make([]uint16, size)
		return
	}
	clear(c.lo)
	clear(c.hi)
	clear(c.need)
}
