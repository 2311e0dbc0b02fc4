package writeback

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/pagecache"
)

// A pass over a blockdev.SizedDevice (COW mode) writes, in this order:
//
//  1. each pending batch, with every dirty group that overlaps it (its
//     super-group), as one transaction that also makes its cut and sets
//     the size it left; batches that share a group go in one transaction;
//  2. the other groups, in group commits that grow the size to cover
//     their data (never past the file size);
//  3. if the size still differs from the file size, a transaction that
//     sets it.
//
// The device applies transactions in order and recovers a prefix of them,
// so after a crash every batch is whole or absent, a cut never shows
// without its batch, and the size covers the data that is there. A failed
// transaction stops the pass: nothing after it is sent, so no later size
// can stand for a cut that did not happen.

// superGroup is one transaction of step 1.
type superGroup struct {
	batches []*pendingBatch
	groups  []*group
	cut     int64 // the lowest cut of its batches, -1 for none
	size    int64 // the size the last of its batches that set one set, -1 for none
	pieces  []blockdev.Piece
	err     error // building its pieces failed
}

// sizedPass is the plan of a pass over a SizedDevice.
type sizedPass struct {
	supers  []*superGroup
	started []*group // the groups of the super-groups, started
	size    int64    // the file size at the snapshot
	devSize int64    // the device's file size at the snapshot
	clip    int64    // size rounded up to a page: nothing beyond goes out
	ends    []int64  // the write ends at the snapshot (see Engine.writeEnds), ascending
	failed  bool     // a transaction failed: the batches stay pending
	err     error    // the first failure: the pass's error even when it failed no group (a size commit)
}

// planSizedLocked forms the super-groups of the pending batches out of
// groups and starts their writeback; it returns the groups left for step
// 2. It reports false, having started nothing, when a writer holds a folio
// of a super-group: a batch is never written in part, so the pass waits.
// REQUIRES: e.mu held.
func (e *Engine) planSizedLocked(groups []*group) (sizedPass, []*group, bool) {
	sp := sizedPass{size: e.size.Load(), devSize: e.sized.FileSize(), clip: math.MaxInt64}
	if sp.size < math.MaxInt64-pagecache.PageSize {
		sp.clip = ceilTo(sp.size, pagecache.PageSize)
	}
	for end := range e.writeEnds {
		sp.ends = append(sp.ends, end)
	}
	slices.Sort(sp.ends)
	if len(e.batches) == 0 {
		return sp, groups, true
	}
	// owner[i]: the super-group batch i belongs to (batches sharing a
	// group are merged into the earlier one's).
	owner := make([]int, len(e.batches))
	for i := range owner {
		owner[i] = i
	}
	find := func(i int) int {
		for owner[i] != i {
			i = owner[i]
		}
		return i
	}
	groupOf := make([]int, len(groups)) // batch index + 1, 0: none
	for gi, g := range groups {
		for bi, b := range e.batches {
			if !b.overlaps(g.off, g.end) {
				continue
			}
			if groupOf[gi] == 0 {
				groupOf[gi] = bi + 1
				continue
			}
			a, c := find(groupOf[gi]-1), find(bi)
			owner[max(a, c)] = min(a, c)
		}
	}
	byRoot := map[int]*superGroup{}
	for bi, b := range e.batches {
		r := find(bi)
		sg := byRoot[r]
		if sg == nil {
			sg = &superGroup{cut: -1, size: -1}
			byRoot[r] = sg
			sp.supers = append(sp.supers, sg)
		}
		sg.batches = append(sg.batches, b)
		if b.cut >= 0 && (sg.cut < 0 || b.cut < sg.cut) {
			sg.cut = b.cut
		}
		if b.size >= 0 {
			sg.size = b.size
		}
	}
	var rest []*group
	for gi, g := range groups {
		if groupOf[gi] == 0 {
			rest = append(rest, g)
			continue
		}
		sg := byRoot[find(groupOf[gi]-1)]
		if !e.startLocked(g) {
			for _, s := range sp.started {
				for _, wb := range s.wbs {
					_ = e.cache.EndWriteback(wb, errSkipped)
				}
			}
			return sizedPass{}, nil, false
		}
		sg.groups = append(sg.groups, g)
		sp.started = append(sp.started, g)
	}
	for _, sg := range sp.supers {
		for _, g := range sg.groups {
			atoms, err := e.groupAtomsLocked(g, math.MaxInt64/2, sp.clip) // a super-group is one transaction, however large
			if err != nil {
				sg.err = err
				break
			}
			for _, a := range atoms {
				sg.pieces = append(sg.pieces, a.pieces...)
			}
		}
		slices.SortFunc(sg.pieces, func(a, b blockdev.Piece) int { return cmp.Compare(a.Off, b.Off) })
	}
	return sp, rest, true
}

// commitSized sends the pass's transactions: the super-groups, then the
// group commits of the other groups, then the size. The first failure
// fails its groups and every group not yet sent.
func (e *Engine) commitSized(sp *sizedPass, batches []batch) {
	dev := sp.devSize
	fail := func(err error, groups ...[]*group) {
		sp.failed = true
		if sp.err == nil {
			sp.err = err
		}
		for _, gs := range groups {
			for _, g := range gs {
				if g.err == nil {
					g.err = err
				}
			}
		}
	}
	rest := func(from int) [][]*group {
		var out [][]*group
		for _, sg := range sp.supers[from:] {
			out = append(out, sg.groups)
		}
		for _, b := range batches {
			out = append(out, b.groups)
		}
		return out
	}
	for i, sg := range sp.supers {
		if sg.err != nil {
			fail(sg.err, rest(i)...)
			return
		}
		cut := sg.cut
		if cut < 0 {
			cut = dev
		}
		// The size the batch set, or the device's, grown to cover the
		// data (never past the file size).
		size := dev
		if sg.size >= 0 {
			size = sg.size
		}
		size = max(size, sp.endIn(sg.pieces))
		// Past the size a batch set, its pages hold the zeros of its cut
		// (a write there since would have written the batch back first):
		// the device reads them as zeros already.
		sg.pieces = clipPieces(sg.pieces, ceilTo(size, pagecache.PageSize))
		if err := e.commitSuper(sg, cut, size); err != nil {
			fail(fmt.Errorf("writeback: batch commit: %w", err), rest(i)...)
			return
		}
		dev = size
		e.countCommit(sg.pieces)
	}
	for i, b := range batches {
		// A group's atoms put its units before the rest: endIn needs the
		// pieces in order.
		slices.SortFunc(b.pieces, func(a, b blockdev.Piece) int { return cmp.Compare(a.Off, b.Off) })
		size := max(dev, sp.endIn(b.pieces))
		if err := e.commitGroup(b, dev, size); err != nil {
			fail(fmt.Errorf("writeback: group commit: %w", err), rest(len(sp.supers))[i:]...)
			return
		}
		dev = size
		e.countCommit(b.pieces)
	}
	if dev != sp.size {
		if err := e.sized.CommitSized(nil, dev, sp.size, 0); err != nil {
			fail(fmt.Errorf("writeback: size commit: %w", err), rest(0)...)
			return
		}
		e.stats.sizeCommits.Add(1)
	}
}

// endIn is the size a transaction of pieces (in ascending order) grows
// the file to: the furthest end of a write whose last byte it carries.
// Sizes that writes set are exact, never rounded to the pages the pieces
// are: after a crash the size is the one the writes that landed leave.
func (sp *sizedPass) endIn(pieces []blockdev.Piece) int64 {
	var size int64
	for _, end := range sp.ends {
		i, found := slices.BinarySearchFunc(pieces, end-1, func(p blockdev.Piece, off int64) int { return cmp.Compare(p.Off, off) })
		if !found {
			i--
		}
		if i >= 0 && end-1 < pieces[i].Off+int64(len(pieces[i].Data)) {
			size = max(size, end)
		}
	}
	return min(size, sp.size)
}

// markEndLocked records the end of a write (see Engine.writeEnds).
// REQUIRES: e.mu held.
func (e *Engine) markEndLocked(end int64) {
	if e.sized != nil && end > e.devSize {
		e.writeEnds[end]++
	}
}

// countCommit counts one group commit of pieces.
func (e *Engine) countCommit(pieces []blockdev.Piece) {
	e.stats.batches.Add(1)
	e.stats.batchPieces.Add(int64(len(pieces)))
	for _, p := range pieces {
		e.stats.bytes.Add(int64(len(p.Data)))
	}
}

// batchesWrittenLocked drops the batches a successful pass wrote from the
// pending ones and recomputes where the device's content is stale.
// REQUIRES: e.mu held.
func (e *Engine) batchesWrittenLocked(sp *sizedPass) {
	if sp.failed {
		return
	}
	e.devSize = sp.size
	for _, end := range sp.ends {
		if e.writeEnds[end]--; e.writeEnds[end] <= 0 {
			delete(e.writeEnds, end)
		}
	}
	if len(sp.supers) == 0 {
		return
	}
	written := map[*pendingBatch]bool{}
	for _, sg := range sp.supers {
		for _, b := range sg.batches {
			written[b] = true
		}
	}
	kept := e.batches[:0]
	stale := int64(math.MaxInt64)
	for _, b := range e.batches {
		if written[b] {
			continue
		}
		kept = append(kept, b)
		if b.cut >= 0 {
			stale = min(stale, ceilTo(b.cut, pagecache.PageSize))
		}
	}
	clear(e.batches[len(kept):])
	e.batches = kept
	e.staleFrom.Store(stale)
}

// commitSuper sends the pieces of one super-group (or of a batch written
// through) as one transaction (or, with Config.SplitBatches, the negative
// control, as one transaction per piece).
func (e *Engine) commitSuper(sg *superGroup, cut, size int64) error {
	if !e.split || len(sg.pieces) < 2 {
		return e.sized.CommitSized(sg.pieces, cut, size, 0)
	}
	dev := e.sized.FileSize()
	for i, p := range sg.pieces {
		c, sz := dev, max(dev, min(size, p.Off+int64(len(p.Data))))
		if i == 0 && cut >= 0 {
			c = cut
		}
		if i == len(sg.pieces)-1 {
			sz = size
		}
		if err := e.sized.CommitSized([]blockdev.Piece{p}, c, sz, 0); err != nil {
			return err
		}
		dev = sz
	}
	return nil
}

// clipPieces cuts pieces (in ascending order) at end.
func clipPieces(pieces []blockdev.Piece, end int64) []blockdev.Piece {
	out := pieces[:0]
	for _, p := range pieces {
		if p.Off >= end {
			break
		}
		if pend := p.Off + int64(len(p.Data)); pend > end {
			p.Data = p.Data[:end-p.Off]
		}
		out = append(out, p)
	}
	return out
}

// commitGroup sends one group commit (step 2) growing the size from dev
// to size: its units and plain pieces apart to a blockdev.UnitDevice
// (which may write units in place), else as one transaction.
func (e *Engine) commitGroup(b batch, dev, size int64) error {
	if ud, ok := e.sized.(blockdev.UnitDevice); ok && e.sized.FileSize() == dev {
		return ud.CommitUnits(b.units, b.rest, size, 0)
	}
	return e.sized.CommitSized(b.pieces, dev, size, 0)
}
