package writeback

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/extent"
)

// deviceWrite is one write a native pass sends.
type deviceWrite struct {
	g        *group
	buf      []byte
	off      int64
	flags    blockdev.Flags
	zeroCopy bool // a unit written from folio memory
}

// passResult says how a pass went.
type passResult struct {
	written  bool // something was sent to the device
	skipped  int  // groups left dirty because a writer held one of their folios
	deferred int  // groups left dirty because the unit buffers were taken
}

// pass writes back everything dirty: it snapshots the dirty folios and
// units into groups, writes each group (units untorn), flushes the device
// once, and only then marks the folios clean and drops the units. Passes
// are serialised, so the writes of one pass are durable before the next
// pass issues any: a unit in flight is never overtaken by a later write
// that overlaps it.
//
// Failures are per group: a group whose unit cannot be built (the read
// around it failed) or whose I/O failed stays dirty with its units, and
// the pass still writes and flushes every other group, which become clean.
// A failed flush fails every group the pass wrote. The pass returns the
// first error, so that Sync reports it until the data is written.
//
// The pass is the one the Syncs waiting for the next pass wait for (see
// join.go): it takes their ticket at its snapshot and releases them when
// it has ended.
func (e *Engine) pass() (passResult, error) {
	e.passMu.Lock()
	defer e.passMu.Unlock()
	return e.passLocked()
}

// passLocked is pass with the pass lock held.
// REQUIRES: e.passMu held.
func (e *Engine) passLocked() (passResult, error) {
	e.stats.passes.Add(1)

	e.mu.Lock()
	groups := e.collectGroupsLocked()
	t := e.startTicketLocked()
	sp := sizedPass{clip: math.MaxInt64}
	if e.sized != nil {
		var ok bool
		if sp, groups, ok = e.planSizedLocked(groups); !ok {
			e.mu.Unlock()
			e.stats.skipped.Add(1)
			res := passResult{skipped: 1}
			e.endTicket(t, res, nil)
			return res, nil
		}
	}
	ready := sp.started
	var res passResult
	for _, g := range groups {
		if e.startLocked(g) {
			ready = append(ready, g)
		} else {
			res.skipped++
		}
	}
	var writes []deviceWrite
	var batches []batch
	if e.batch != nil {
		batches = e.planBatchesLocked(ready[len(sp.started):], sp.clip)
		res.written = len(batches) > 0 || len(sp.supers) > 0 || sp.size != sp.devSize || e.needFlush
		e.needFlush = false
	} else {
		writes = e.planNativeLocked(ready)
		res.written = len(writes) > 0
	}
	e.mu.Unlock()
	e.stats.skipped.Add(int64(res.skipped))

	switch {
	case e.sized != nil:
		e.commitSized(&sp, batches)
	case e.batch != nil:
		e.commitBatches(batches)
	default:
		e.writeParallel(writes)
		for _, g := range ready {
			e.putBufs(g)
		}
	}
	t.writesReturned(res.skipped == 0 && groupsWritten(ready))
	var err error // the flush's: it fails every group the pass wrote
	if res.written {
		if ferr := e.dev.Flush(); ferr != nil {
			err = fmt.Errorf("writeback: flush: %w", ferr)
			e.mu.Lock()
			e.needFlush = e.batch != nil // a CommitThrough may wait for it still
			e.mu.Unlock()
		}
	}

	e.mu.Lock()
	e.ends++
	var first error
	for _, g := range ready {
		if g.deferred {
			for _, wb := range g.wbs {
				_ = e.cache.EndWriteback(wb, errSkipped)
			}
			res.deferred++
			continue
		}
		gerr := g.err
		if gerr == nil {
			gerr = err
		}
		for _, wb := range g.wbs {
			_ = e.cache.EndWriteback(wb, gerr)
		}
		if gerr == nil {
			for _, u := range g.units {
				e.ranges.Remove(u)
			}
		} else if first == nil {
			first = gerr
		}
	}
	if err == nil {
		e.batchesWrittenLocked(&sp)
	}
	e.mu.Unlock()
	e.stats.deferred.Add(int64(res.deferred))
	if first == nil {
		first = err
	}
	if first == nil {
		first = sp.err // a failed transaction that held no group: a size, a cut
	}
	e.recordResult(first)
	e.endTicket(t, res, first)
	return res, first
}

// groupsWritten reports whether every group was written without error
// and none was deferred.
func groupsWritten(groups []*group) bool {
	for _, g := range groups {
		if g.err != nil || g.deferred {
			return false
		}
	}
	return true
}

// planNativeLocked turns groups into device writes: each unit one Atomic
// write of its power-of-two range, the rest of the dirty folios plain. A
// group whose unit cannot be built gets the error in g.err and no writes;
// one that finds no unit buffer free is deferred to the next pass.
// REQUIRES: e.mu held.
func (e *Engine) planNativeLocked(groups []*group) []deviceWrite {
	var writes []deviceWrite
	for _, g := range groups {
		n := len(writes)
		var err error
		if writes, err = e.groupWritesLocked(g, writes); err != nil {
			writes = writes[:n]
			e.putBufs(g)
			switch {
			case !errors.Is(err, errNoScratch):
				g.err = err
			case e.scratch.Stats().InUse > 0:
				g.deferred = true // the groups before it hold the buffers
			default:
				g.err = fmt.Errorf("%w: %w", ErrTooLarge, err) // would never fit
			}
		}
	}
	return writes
}

// putBufs gives the group's unit buffers back.
func (e *Engine) putBufs(g *group) {
	for _, b := range g.bufs {
		e.scratch.Put(b)
	}
	g.bufs = g.bufs[:0]
}

// groupWritesLocked appends the writes of one group to writes.
// REQUIRES: e.mu held.
func (e *Engine) groupWritesLocked(g *group, writes []deviceWrite) ([]deviceWrite, error) {
	for _, u := range g.units {
		buf, zeroCopy, err := e.unitBytesLocked(g, u.Off, u.End)
		if err != nil {
			return writes, err
		}
		flags := blockdev.Atomic
		if e.plain {
			flags = 0
		}
		writes = append(writes, deviceWrite{g: g, buf: buf, off: u.Off, flags: flags, zeroCopy: zeroCopy})
	}
	for _, wb := range g.wbs {
		// The parts of the folio outside every unit go out plain.
		for _, part := range outsideUnits(wb.Off, wb.Off+int64(len(wb.Data)), g.units) {
			writes = append(writes, deviceWrite{g: g, buf: wb.Data[part[0]-wb.Off : part[1]-wb.Off], off: part[0]})
		}
	}
	return writes, nil
}

// unitBytesLocked returns the content of [lo, hi): the memory of the
// group's folio when one holds all of it, else a buffer from the scratch
// (kept in g.bufs) filled from the group's stable views, the cache and the
// device. It fails with errNoScratch when no buffer is free.
// REQUIRES: e.mu held.
func (e *Engine) unitBytesLocked(g *group, lo, hi int64) ([]byte, bool, error) {
	if data, off, ok := g.viewAt(lo); ok && hi <= off+int64(len(data)) {
		// Folio memory is page aligned and units start at page offsets.
		return data[lo-off : hi-off], true, nil
	}
	b, ok := e.scratch.TryGet(int(hi - lo))
	if !ok {
		return nil, false, fmt.Errorf("%w: a buffer for the unit [%d, %d)", errNoScratch, lo, hi)
	}
	g.bufs = append(g.bufs, b)
	buf := b.Data
	err := g.eachPart(lo, hi,
		func(pos int64, data []byte) { copy(buf[pos-lo:], data) },
		func(pos, end int64) error { return e.readThroughLocked(buf[pos-lo:end-lo], pos) })
	if err != nil {
		return nil, false, fmt.Errorf("writeback: read around the unit [%d, %d): %w", lo, hi, err)
	}
	return buf, false, nil
}

// batch is one group commit and the groups with pieces in it.
type batch struct {
	pieces []blockdev.Piece
	size   int64
	groups []*group
	// units are the pieces of each untorn unit in it, rest the plain
	// pieces (the same pieces as in pieces): a blockdev.UnitDevice takes
	// them apart (CommitUnits).
	units [][]blockdev.Piece
	rest  []blockdev.Piece
}

// atom is what must go in one commit: the pieces of one unit, or one
// piece of dirty data outside every unit (plain).
type atom struct {
	g      *group
	pieces []blockdev.Piece
	size   int64
	plain  bool
}

// planBatchesLocked packs the groups' atoms, in order, into group commits
// of at most MaxBatch bytes. A unit (at most MaxUnit = MaxBatch bytes) is
// never split; dirty data outside units may be. A group whose atoms cannot
// be built gets the error in g.err and no pieces.
// REQUIRES: e.mu held.
func (e *Engine) planBatchesLocked(groups []*group, clip int64) []batch {
	limit := e.batch.MaxBatch()
	var batches []batch
	cur := batch{}
	add := func(a atom) {
		if cur.size+a.size > limit && len(cur.pieces) > 0 {
			batches = append(batches, cur)
			cur = batch{}
		}
		cur.pieces = append(cur.pieces, a.pieces...)
		if a.plain {
			cur.rest = append(cur.rest, a.pieces...)
		} else {
			cur.units = append(cur.units, a.pieces)
		}
		cur.size += a.size
		if n := len(cur.groups); n == 0 || cur.groups[n-1] != a.g {
			cur.groups = append(cur.groups, a.g)
		}
	}
	for _, g := range groups {
		atoms, err := e.groupAtomsLocked(g, limit, clip)
		if err != nil {
			g.err = err
			continue
		}
		for _, a := range atoms {
			add(a)
		}
	}
	if len(cur.pieces) > 0 {
		batches = append(batches, cur)
	}
	return batches
}

// groupAtomsLocked splits a group into atoms: for each unit, the parts of
// the stable views inside it; then the parts of the views outside every
// unit, cut to at most limit bytes each. Nothing at or beyond clip (the
// file size rounded up to a page) goes out: past the size a folio holds
// zeros.
//
// The parts of a unit that no view covers are left out of its commit, not
// read: no dirty folio covers them, so the cache holds them clean or not
// at all, and in COW mode a folio becomes clean only after the flush that
// made it durable (the device is written by passes only). The device
// therefore already holds them durably, as the unit has them, and the
// commit of the rest makes the whole unit current at once. (Such parts
// exist when a unit was rewritten while a pass was writing it: the unit
// stays dirty, the folios the rewrite left alone became clean.)
// REQUIRES: e.mu held.
func (e *Engine) groupAtomsLocked(g *group, limit, clip int64) ([]atom, error) {
	var atoms []atom
	for _, u := range g.units {
		if u.Len() > limit {
			return nil, fmt.Errorf("%w: unit [%d, %d) exceeds a batch of %d", ErrTooLarge, u.Off, u.End, limit)
		}
		a := atom{g: g, size: u.Len()}
		_ = g.eachPart(u.Off, min(u.End, clip),
			func(pos int64, data []byte) { a.pieces = append(a.pieces, blockdev.Piece{Off: pos, Data: data}) },
			func(pos, end int64) error { return nil })
		if len(a.pieces) > 0 {
			atoms = append(atoms, a)
		}
	}
	for _, wb := range g.wbs {
		for _, part := range outsideUnits(wb.Off, min(wb.Off+int64(len(wb.Data)), clip), g.units) {
			for lo := part[0]; lo < part[1]; lo += limit {
				hi := min(part[1], lo+limit)
				atoms = append(atoms, atom{g: g, size: hi - lo, plain: true,
					pieces: []blockdev.Piece{{Off: lo, Data: wb.Data[lo-wb.Off : hi-wb.Off]}}})
			}
		}
	}
	return atoms, nil
}

// outsideUnits returns the parts of [lo, hi) that no unit covers.
func outsideUnits(lo, hi int64, units []extent.Range) [][2]int64 {
	var parts [][2]int64
	pos := lo
	for _, u := range units {
		if u.End <= pos || u.Off >= hi {
			continue
		}
		if u.Off > pos {
			parts = append(parts, [2]int64{pos, u.Off})
		}
		pos = max(pos, u.End)
	}
	if pos < hi {
		parts = append(parts, [2]int64{pos, hi})
	}
	return parts
}

// writeParallel sends the writes with up to e.depth in flight and records
// each failure on its group.
func (e *Engine) writeParallel(writes []deviceWrite) {
	var next atomic.Int64
	var mu sync.Mutex // guards the groups' err
	var wg sync.WaitGroup
	for range min(e.depth, len(writes)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(writes) {
					return
				}
				w := writes[i]
				_, err := e.dev.WriteAt(w.buf, w.off, w.flags)
				if err != nil {
					mu.Lock()
					w.g.err = errors.Join(w.g.err, fmt.Errorf("writeback: write [%d, +%d): %w", w.off, len(w.buf), err))
					mu.Unlock()
					continue
				}
				e.stats.bytes.Add(int64(len(w.buf)))
				if w.zeroCopy {
					e.stats.zeroCopy.Add(1)
				}
				if w.flags&blockdev.Atomic != 0 {
					e.stats.nativeAtomic.Add(1)
				} else {
					e.stats.plainWrites.Add(1)
				}
			}
		}()
	}
	wg.Wait()
}

// commitBatches sends each batch as one group commit; a failed commit
// fails every group in it. (Committing the last batch with FUA instead of
// the pass's separate Flush measured no faster on ext4: RWF_DSYNC costs a
// flush too.)
func (e *Engine) commitBatches(batches []batch) {
	for _, b := range batches {
		if err := e.batch.CommitBatch(b.pieces, 0); err != nil {
			for _, g := range b.groups {
				g.err = fmt.Errorf("writeback: group commit: %w", err)
			}
			continue
		}
		e.stats.batches.Add(1)
		e.stats.batchPieces.Add(int64(len(b.pieces)))
		for _, p := range b.pieces {
			e.stats.bytes.Add(int64(len(p.Data)))
		}
	}
}
