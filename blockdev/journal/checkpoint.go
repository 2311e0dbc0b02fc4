package journal

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/internal/logrec"
)

// A checkpoint takes the durable records at the start of the log (its
// window), brings the data device up to date with them and only then
// frees their space:
//
//  1. the lowest cut in the window is applied to the data device (a
//     regular file is truncated, another device's blocks are discarded),
//     and a file that grew is extended, before any page is copied;
//  2. the newest image of each block the window wrote (and no later cut
//     in it unmapped) is read back from the journal and written home, in
//     block order, merged into runs, QueueDepth writes in flight; an image
//     a later durable record supersedes is skipped (written home once per
//     checkpoint, however often it was rewritten);
//  3. the data device is flushed;
//  4. a new header, naming the record after the window as the start and
//     the file size as of there, is written to the other copy and the
//     journal flushed: only then may the window's space be reused.
//
// A crash at any point leaves the old header (or the new one, durable)
// and every record after it: replay from there redoes whatever the data
// device lost. Commits go on meanwhile into the rest of the ring.

// image is a block to copy home: its newest image in the window lies at
// log position lsn.
type image struct {
	block, lsn int64
}

// ckptPlan is what a window does to the data device.
type ckptPlan struct {
	images []image // ascending blocks
	minCut int64   // the lowest block a cut in the window unmapped, noCut for none
	size   int64   // the file size after the window
}

// planWindow computes the plan of window (in log order).
func (d *Device) planWindow(window []record) ckptPlan {
	p := ckptPlan{minCut: noCut, size: window[len(window)-1].size}
	// after[i]: the lowest cut of the records after record i.
	after := make([]int64, len(window))
	low := int64(noCut)
	for i := len(window) - 1; i >= 0; i-- {
		after[i] = low
		low = min(low, window[i].cutBlock)
	}
	p.minCut = low
	clip := ceilDiv(p.size, d.bs)
	newest := map[int64]int64{}
	for i, r := range window {
		pos := r.lsn + r.hdrBlocks
		for _, e := range r.extents {
			for k := range int64(e.Count) {
				b := int64(e.LBlock) + k
				if b >= after[i] || b >= clip {
					delete(newest, b) // a later cut unmaps it (or the size ends before it)
					continue
				}
				if _, ok := newest[b]; ok && d.opts.Break&BreakOldestImage != 0 {
					continue // the negative control keeps the oldest image
				}
				newest[b] = pos + k
			}
			pos += int64(e.Count)
		}
	}
	p.images = make([]image, 0, len(newest))
	for b, lsn := range newest {
		p.images = append(p.images, image{block: b, lsn: lsn})
	}
	slices.SortFunc(p.images, func(a, b image) int { return int(a.block - b.block) })
	return p
}

// checkpointLocked checkpoints the durable records at the start of the
// log; final also gives a data device that keeps an exact length (a
// regular file) the file size, as the last thing before Close. It reports
// whether the start moved.
// REQUIRES: ckptMu held (and not mu).
func (d *Device) checkpointLocked(final bool) (bool, error) {
	began := time.Now()
	d.mu.RLock()
	var window []record
	for _, r := range d.recs {
		if r.end > d.durable {
			break
		}
		window = append(window, r)
	}
	hdr, homeEnd, size := d.hdr, d.homeEnd, d.size
	d.mu.RUnlock()
	if len(window) == 0 {
		if !final {
			return false, nil
		}
		return false, d.noteCheckpoint(d.finishHome(size), began)
	}
	plan := d.planWindow(window)
	end := window[len(window)-1].end
	d.mu.RLock()
	kept := plan.images[:0]
	skipped := 0
	for _, im := range plan.images {
		if l, ok := d.index.Get(loc{block: im.block}); ok && l.lsn >= end && l.lsn < d.durable {
			skipped++
			continue
		}
		kept = append(kept, im)
	}
	plan.images = kept
	d.mu.RUnlock()

	newEnd, err := d.writeHome(plan, homeEnd)
	if err == nil && final && size == plan.size {
		// Nothing after the window: the data device is the whole file
		// (records after it, from a Close without a Flush, keep the
		// length in whole blocks until they are checkpointed).
		err = d.setLength(plan.size)
	}
	if err == nil && d.opts.Break&BreakHomeFlush == 0 {
		err = d.timedFlushHome()
	}
	if err != nil {
		return false, d.noteCheckpoint(fmt.Errorf("journal: checkpoint: %w", err), began)
	}
	last := window[len(window)-1]
	nh := hdr
	nh.rootSeq++
	nh.start, nh.startSeq, nh.startPrev, nh.baseSize = end, last.seq+1, last.crc, plan.size
	if err := d.writeRoot(nh); err != nil {
		return false, d.noteCheckpoint(err, began)
	}
	d.mu.Lock()
	d.hdr = nh
	d.recs = slices.Clone(d.recs[len(window):])
	for _, r := range window {
		for _, e := range r.extents {
			for k := range int64(e.Count) {
				if l, ok := d.index.Get(loc{block: int64(e.LBlock) + k}); ok && l.lsn < end {
					d.index.Delete(l)
				}
			}
		}
	}
	d.zeroFrom = noCut
	for _, r := range d.recs {
		d.zeroFrom = min(d.zeroFrom, r.cutBlock)
	}
	d.homeEnd = newEnd
	d.stats.Checkpoints++
	d.stats.Superseded += int64(skipped)
	d.mu.Unlock()
	return true, d.noteCheckpoint(nil, began)
}

// noteCheckpoint records a checkpoint's outcome and time.
func (d *Device) noteCheckpoint(err error, began time.Time) error {
	d.mu.Lock()
	d.ckptErr = err
	d.stats.CheckpointTime += time.Since(began)
	d.mu.Unlock()
	return err
}

// finishHome gives the data device the file size as its exact length and
// flushes it (Close, with nothing left to copy).
func (d *Device) finishHome(size int64) error {
	if err := d.setLength(size); err != nil {
		return err
	}
	return d.timedFlushHome()
}

// setLength sets a regular file's exact length (blockdev.Lengther).
func (d *Device) setLength(size int64) error {
	if _, ok := blockdev.LengthOf(d.data); !ok {
		return nil
	}
	l, ok := d.data.(blockdev.Lengther)
	if !ok {
		return nil
	}
	if err := l.SetLength(size); err != nil {
		return fmt.Errorf("journal: set the data file's length: %w", err)
	}
	return nil
}

func (d *Device) timedFlushHome() error {
	start := time.Now()
	err := d.data.Flush()
	d.mu.Lock()
	d.stats.HomeTime += time.Since(start)
	d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("journal: flush the data device: %w", err)
	}
	return nil
}

// writeHome applies a plan to the data device (steps 1 and 2) and returns
// the new bound past which it holds only zeros.
func (d *Device) writeHome(p ckptPlan, homeEnd int64) (int64, error) {
	bs := d.bs
	start := time.Now()
	var readBack time.Duration // copyHome's reads, counted apart (ReadTime)
	defer func() {
		d.mu.Lock()
		d.stats.HomeTime += time.Since(start) - readBack
		d.mu.Unlock()
	}()
	if p.minCut != noCut {
		from := p.minCut * bs
		if err := d.cutHome(from, homeEnd); err != nil {
			return homeEnd, err
		}
		homeEnd = min(homeEnd, from)
	}
	if need := ceilDiv(p.size, bs) * bs; d.growHome && d.data.Size() < need {
		if err := d.data.(blockdev.Resizer).Resize(need); err != nil {
			return homeEnd, fmt.Errorf("journal: extend the data file to %d: %w", need, err)
		}
	}
	if len(p.images) > 0 {
		homeEnd = max(homeEnd, (p.images[len(p.images)-1].block+1)*bs)
	}
	var err error
	readBack, err = d.copyHome(p.images)
	return homeEnd, err
}

// cutHome makes the data device hold nothing from byte from on: a regular
// file is truncated there; another device has [from, homeEnd) discarded
// (or written with zeros).
func (d *Device) cutHome(from, homeEnd int64) error {
	if d.growHome {
		if d.data.Size() <= from {
			return nil
		}
		if err := d.data.(blockdev.Resizer).Resize(from); err != nil {
			return fmt.Errorf("journal: truncate the data file to %d: %w", from, err)
		}
		return nil
	}
	to := min(homeEnd, d.data.Size())
	if to <= from {
		return nil
	}
	if dis, ok := d.data.(blockdev.Discarder); ok {
		err := dis.Discard(from, to-from)
		if err == nil {
			return nil
		}
		if !errors.Is(err, blockdev.ErrNotSupported) {
			return fmt.Errorf("journal: discard [%d, %d) of the data device: %w", from, to, err)
		}
	}
	zeros := blockdev.AlignedBuffer(int(min(to-from, 1<<20)), d.limits.MemAlign)
	for off := from; off < to; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), to-off)
		if _, err := d.data.WriteAt(zeros[:n], off, 0); err != nil {
			return fmt.Errorf("journal: zero [%d, %d) of the data device: %w", off, off+n, err)
		}
	}
	return nil
}

// cloneHome clones images (ascending blocks) home from the journal: a run
// of consecutive blocks that lie consecutively in the journal device (not
// across the end of the ring) is one clone, QueueDepth at once.
// REQUIRES: ckptMu held.
func (d *Device) cloneHome(images []image) error {
	bs := d.bs
	var runs [][2]int
	for k := 0; k < len(images); {
		m := k + 1
		for m < len(images) && images[m].block == images[m-1].block+1 && images[m].lsn == images[m-1].lsn+1 &&
			d.phys(images[m].lsn) == d.phys(images[m-1].lsn)+bs && int64(m-k)*bs < maxHomeWrite {
			m++
		}
		runs = append(runs, [2]int{k, m})
		k = m
	}
	err := d.parallel(runs, func(r [2]int) error {
		first, n := images[r[0]], int64(r[1]-r[0])*bs
		if err := d.cloner.CloneFrom(d.jdev, d.phys(first.lsn), first.block*bs, n); err != nil {
			return fmt.Errorf("journal: clone home at %d: %w", first.block*bs, err)
		}
		return nil
	})
	if err == nil {
		d.mu.Lock()
		d.stats.Clones += int64(len(runs))
		d.stats.HomeBytes += int64(len(images)) * bs
		d.mu.Unlock()
	}
	return err
}

// parallel runs f over runs with up to QueueDepth at once and returns the
// first error.
func (d *Device) parallel(runs [][2]int, f func([2]int) error) error {
	if len(runs) == 1 || d.opts.QueueDepth <= 1 {
		for _, r := range runs {
			if err := f(r); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	sem := make(chan struct{}, d.opts.QueueDepth)
	for _, r := range runs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(r); err != nil {
				errMu.Lock()
				if first == nil {
					first = err
				}
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// writeRoot writes header h to its copy and flushes the journal; d.hdr
// changes only after it returned nil, so a failed write is retried on the
// same copy and the other copy stays intact.
// REQUIRES: ckptMu held.
func (d *Device) writeRoot(h header) error {
	h.encode(d.rootBuf)
	copyNo := int64(logrec.RootCopy(h.rootSeq))
	if _, err := d.jdev.WriteAt(d.rootBuf, copyNo*d.bs, 0); err != nil {
		return fmt.Errorf("journal: write header copy %d: %w", copyNo, err)
	}
	if err := d.jdev.Flush(); err != nil {
		d.mu.Lock()
		d.suspectLocked(err) // the flush covered the records written since the last one, too
		d.mu.Unlock()
		return fmt.Errorf("journal: flush header copy %d: %w", copyNo, err)
	}
	return nil
}

// Checkpoint flushes the journal and checkpoints every record in it: the
// data device then holds the file and the journal is empty.
func (d *Device) Checkpoint() error {
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	if d.isClosed() {
		return blockdev.ErrClosed
	}
	if err := d.flushLocked(); err != nil {
		return err
	}
	d.ckptMu.Lock()
	defer d.ckptMu.Unlock()
	_, err := d.checkpointLocked(false)
	return err
}
