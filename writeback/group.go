package writeback

import (
	"math"

	"github.com/untorn/untorn/extent"
	"github.com/untorn/untorn/pagecache"
)

// group is a set of dirty folios and untorn units that overlap one
// another, transitively: what one pass must write together so that no
// unit is split. Groups of one pass are disjoint.
type group struct {
	off, end int64
	folios   []pagecache.FolioRef   // dirty folios, in offset order
	units    []extent.Range         // untorn units, in offset order
	wbs      []pagecache.Writeback  // stable views, once started
	bufs     []pagecache.ScratchBuf // native: unit buffers, given back after the writes
	err      error                  // the first error of this group's I/O
	deferred bool                   // no unit buffer in this pass: left dirty for the next
}

// collectGroupsLocked lists the dirty folios and units and groups them.
// REQUIRES: e.mu held.
func (e *Engine) collectGroupsLocked() []*group {
	var folios []pagecache.FolioRef
	e.cache.AscendDirty(0, math.MaxInt64, func(f pagecache.FolioRef) bool {
		folios = append(folios, f)
		return true
	})
	var units []extent.Range
	e.ranges.Ascend(func(r extent.Range) bool {
		units = append(units, r)
		e.snapGen = max(e.snapGen, r.Gen)
		return true
	})
	var groups []*group
	var g *group
	add := func(off, end int64) *group {
		if g == nil || off >= g.end {
			g = &group{off: off, end: end}
			groups = append(groups, g)
		}
		g.end = max(g.end, end)
		return g
	}
	i, j := 0, 0
	for i < len(folios) || j < len(units) {
		if j == len(units) || (i < len(folios) && folios[i].Off < units[j].Off) {
			f := folios[i]
			cur := add(f.Off, f.Off+int64(f.Size))
			cur.folios = append(cur.folios, f)
			i++
			continue
		}
		u := units[j]
		cur := add(u.Off, u.End)
		cur.units = append(cur.units, u)
		j++
	}
	return groups
}

// startLocked takes stable views of the group's folios. It reports false,
// having ended the views it took, when a writer holds one of them.
// REQUIRES: e.mu held.
func (e *Engine) startLocked(g *group) bool {
	for _, f := range g.folios {
		wb, err := e.cache.StartWriteback(f.Off)
		if err != nil {
			for _, w := range g.wbs {
				_ = e.cache.EndWriteback(w, errSkipped)
			}
			g.wbs = g.wbs[:0]
			return false
		}
		g.wbs = append(g.wbs, wb)
	}
	return true
}

// viewAt returns the stable bytes of the group's folio covering off.
func (g *group) viewAt(off int64) ([]byte, int64, bool) {
	for _, wb := range g.wbs {
		if off >= wb.Off && off < wb.Off+int64(len(wb.Data)) {
			return wb.Data, wb.Off, true
		}
	}
	return nil, 0, false
}

// eachPart walks [lo, hi) in order: view(pos, data) for each stretch a
// stable view of the group covers (data: the view's bytes of the
// stretch), gap(pos, end) for each stretch [pos, end) none covers. It
// stops at gap's first error.
func (g *group) eachPart(lo, hi int64, view func(pos int64, data []byte), gap func(pos, end int64) error) error {
	for pos := lo; pos < hi; {
		if data, off, ok := g.viewAt(pos); ok {
			end := min(off+int64(len(data)), hi)
			view(pos, data[pos-off:end-off])
			pos = end
			continue
		}
		end := hi // up to the next view of the group
		for _, wb := range g.wbs {
			if wb.Off > pos && wb.Off < end {
				end = wb.Off
			}
		}
		if err := gap(pos, end); err != nil {
			return err
		}
		pos = end
	}
	return nil
}
