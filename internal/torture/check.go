package torture

import "math"

// Checker checks device images against a Model. It keeps its scratch
// buffers between checks; it is not safe for concurrent use.
type Checker struct {
	lo, hi, need []int32
}

const noMatch = math.MaxInt32

// Check verifies img, the whole content of a file found after a crash (or
// a fault, or a flipped bit), against what m promised at snap. It returns
// nil or a *Violation of class Phantom, Lost or Torn (or Unexpected for an
// image of the wrong size).
//
// Each byte is traced to the set of writes whose pattern matches it there
// (the zero baseline counting as write 0); lo and hi are the oldest and
// newest of them. Then, writes in the order they were issued:
//   - phantom: no write matches a byte;
//   - lost: the newest write that matches a byte is older than the newest
//     synced write covering it;
//   - torn: an untorn write W has one byte that only W or later writes
//     explain and another that only writes before W explain.
func (c *Checker) Check(m *Model, snap Snapshot, img []byte) error {
	size := m.Size()
	if int64(len(img)) != size {
		return violation(Unexpected, nil, "image of %d bytes, file of %d", len(img), size)
	}
	c.reset(size)
	lo, hi, need := c.lo, c.hi, c.need
	for b, v := range img {
		if v == 0 {
			lo[b], hi[b] = 0, 0
		}
	}
	writes := m.Writes()[:snap.N]
	for i := range writes {
		w := &writes[i]
		if w.Dropped {
			continue
		}
		id := int32(w.ID)
		seg := img[w.Off:w.End()]
		l, h := lo[w.Off:w.End()], hi[w.Off:w.End()]
		for j, v := range w.Data {
			if seg[j] == v {
				if l[j] == noMatch {
					l[j] = id
				}
				h[j] = id
			}
		}
		if i < snap.Synced {
			fill32(need[w.Off:w.End()], id)
		}
	}
	for b := range img {
		switch {
		case hi[b] < 0:
			return violation(Phantom, nil, "byte %#x at offset %d: no write put it there", img[b], b)
		case hi[b] < need[b]:
			return violation(Lost, nil, "offset %d shows write %d (newest match), write %d was synced", b, hi[b], need[b])
		}
	}
	for i := range writes {
		w := &writes[i]
		if !w.Untorn || w.Dropped {
			continue
		}
		if err := tornAt(w, lo, hi); err != nil {
			return err
		}
	}
	return nil
}

// tornAt reports whether untorn write w is torn: one byte of its range is
// explained only by w or later writes, another only by earlier ones.
func tornAt(w *Write, lo, hi []int32) error {
	id := int32(w.ID)
	newer, older := int64(-1), int64(-1)
	for b := w.Off; b < w.End(); b++ {
		if lo[b] >= id && newer < 0 {
			newer = b
		}
		if hi[b] < id && older < 0 {
			older = b
		}
		if newer >= 0 && older >= 0 {
			return violation(Torn, nil, "untorn write %d [%d, %d): offset %d shows write %d or later, offset %d only older data (newest match %d)",
				w.ID, w.Off, w.End(), newer, lo[newer], older, hi[older])
		}
	}
	return nil
}

// reset sizes the scratch buffers for a file of size bytes: lo unset,
// hi below any id, need 0 (the baseline).
func (c *Checker) reset(size int64) {
	if int64(len(c.lo)) != size {
		c.lo, c.hi, c.need = make([]int32, size), make([]int32, size), make([]int32, size)
	}
	fill32(c.lo, noMatch)
	fill32(c.hi, -1)
	clear(c.need)
}

func fill32(s []int32, v int32) {
	for i := range s {
		s[i] = v
	}
}
