package journal

import (
	"fmt"
	"time"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/internal/logrec"
)

// WriteAt commits p at off as one transaction that grows the file to cover
// it (a plain write larger than MaxBatch as several): every write is
// untorn up to MaxBatch (Atomic only checks the RWF_ATOMIC rules against
// Limits). With FUA it is durable on return.
func (d *Device) WriteAt(p []byte, off int64, flags blockdev.Flags) (int, error) {
	op := "write"
	if flags&blockdev.Atomic != 0 {
		op = "atomic write"
	}
	if err := blockdev.CheckIO(d.limits, d.Size(), p, off, flags); err != nil {
		return 0, &blockdev.OpError{Op: op, Off: off, Len: len(p), Err: err}
	}
	// A plain write larger than a transaction goes in several (it may
	// tear between them, as a plain write may).
	step := max(d.MaxBatch(), d.bs)
	for done := int64(0); done < int64(len(p)); {
		n := min(int64(len(p))-done, step)
		f := flags
		if done+n < int64(len(p)) {
			f &^= blockdev.FUA // the last one flushes them all
		}
		if err := d.commit([]blockdev.Piece{{Off: off + done, Data: p[done : done+n]}}, -1, -1, f); err != nil {
			return int(done), &blockdev.OpError{Op: op, Off: off, Len: len(p), Err: err}
		}
		done += n
	}
	return len(p), nil
}

// CommitBatch commits pieces as one transaction that grows the file to
// cover them (see blockdev.BatchDevice).
func (d *Device) CommitBatch(pieces []blockdev.Piece, flags blockdev.Flags) error {
	if err := d.commit(pieces, -1, -1, flags); err != nil {
		return &blockdev.OpError{Op: "commit batch", Off: -1, Err: err}
	}
	return nil
}

// CommitSized commits one transaction: the cut, the pieces, the size (see
// blockdev.SizedDevice). It is one record in the journal; after a crash
// all of it is there or none. Without FUA it is durable with the next
// Flush. A transaction larger than MaxBatch is taken when the journal can
// grow to hold it; else it fails with ErrTooLarge.
func (d *Device) CommitSized(pieces []blockdev.Piece, cut, size int64, flags blockdev.Flags) error {
	if cut < 0 || size < 0 || cut > d.Size() || size > d.Size() {
		return &blockdev.OpError{Op: "commit batch", Off: -1,
			Err: fmt.Errorf("%w: cut %d and size %d on a device of %d bytes", blockdev.ErrOutOfRange, cut, size, d.Size())}
	}
	if err := d.commit(pieces, cut, size, flags); err != nil {
		return &blockdev.OpError{Op: "commit batch", Off: -1, Err: err}
	}
	return nil
}

// commit validates and commits a transaction; cut < 0 means no cut and a
// size that grows to cover the pieces.
func (d *Device) commit(pieces []blockdev.Piece, cut, size int64, flags blockdev.Flags) error {
	limit := d.MaxBatch()
	if cut >= 0 {
		limit = d.Size() // refused with ErrTooLarge when the journal cannot grow to hold it
	}
	sorted, total, err := blockdev.CheckPieces(d.limits, d.Size(), pieces, limit)
	if err != nil {
		return err
	}
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	if err := d.writableLocked(); err != nil {
		return err
	}
	return d.commitLocked(sorted, total, cut, size, flags)
}

// commitLocked commits a validated transaction (sorted pieces of total
// bytes); cut < 0 means no cut and a size that grows to cover the pieces.
// REQUIRES: commitMu held, the device writable (writableLocked).
func (d *Device) commitLocked(sorted []blockdev.Piece, total, cut, size int64, flags blockdev.Flags) error {
	cur := d.size // only the commit path changes it, under commitMu
	var end int64
	if n := len(sorted); n > 0 {
		end = sorted[n-1].Off + int64(len(sorted[n-1].Data))
	}
	if cut < 0 {
		cut, size = cur, max(cur, end)
	} else if end > ceilDiv(size, d.bs)*d.bs {
		return fmt.Errorf("%w: a piece ends at %d, past the new file size %d", blockdev.ErrOutOfRange, end, size)
	}
	if total > 0 || cut != cur || size != cur {
		if err := d.appendLocked(sorted, total/d.bs, cut, size); err != nil {
			return err
		}
	}
	if flags&blockdev.FUA != 0 {
		return d.flushLocked()
	}
	return nil
}

// writableLocked fails on a closed device, and rewinds a suspect log.
// REQUIRES: commitMu held.
func (d *Device) writableLocked() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return blockdev.ErrClosed
	}
	if d.suspect {
		d.rewindLocked()
	}
	return nil
}

// appendLocked writes one record of the pieces (sorted, disjoint, data
// blocks in all) with the cut and the size at the log head, making room
// first, and publishes it.
// REQUIRES: commitMu held.
func (d *Device) appendLocked(pieces []blockdev.Piece, data, cut, size int64) error {
	bs := d.bs
	var exts []logrec.Extent
	srcs := make([][]byte, 0, len(pieces))
	sums := make([]uint32, 0, data)
	for _, pc := range pieces {
		lb := pc.Off / bs
		n := int64(len(pc.Data)) / bs
		if k := len(exts) - 1; k >= 0 && int64(exts[k].LBlock)+int64(exts[k].Count) == lb {
			exts[k].Count += uint32(n)
		} else {
			exts = append(exts, logrec.Extent{LBlock: uint32(lb), Count: uint32(n)})
		}
		srcs = append(srcs, pc.Data)
		for b := int64(0); b < int64(len(pc.Data)); b += bs {
			sums = append(sums, logrec.CRC(pc.Data[b:b+bs]))
		}
	}
	h := logrec.HeaderBlocksFor(len(exts), data, bs)
	if err := d.makeRoomLocked(h + data); err != nil {
		return err
	}
	d.mu.RLock()
	lsn, seq, prev, durableSeq, before := d.head, d.nextSeq, d.prev, d.durableSeqLocked(), d.size
	d.mu.RUnlock()
	rec := logrec.Header{HdrBlocks: h, Seq: seq, Epoch: d.gen, DevID: d.id, Next: lsn + h + data,
		DataBlocks: data, DataCRC: d.folder.Fold(sums), DurableSeq: durableSeq,
		Cut: cut, Size: size, Prev: prev, Extents: exts, Sums: sums}
	if int64(len(d.hdrBuf)) < h*bs {
		d.hdrBuf = blockdev.AlignedBuffer(int(h*bs), d.limits.MemAlign)
		d.hdrCap.Store(int64(cap(d.hdrBuf)))
	}
	buf := d.hdrBuf[:h*bs]
	sum := rec.Encode(buf)
	d.iov = append(append(d.iov[:0], buf), srcs...)
	start := time.Now()
	err := d.writeLog(d.iov, lsn)
	clear(d.iov) // keep no reference to the caller's data
	if err != nil {
		// Nothing moves: the next record goes to the same place with the
		// same sequence number and Prev, over whatever of this one landed.
		return fmt.Errorf("journal: write record %d: %w", seq, err)
	}
	r := record{lsn: lsn, end: lsn + h + data, hdrBlocks: h, seq: seq, crc: sum, cut: cut, size: size,
		cutBlock: noCut, extents: exts}
	if cut < before {
		r.cutBlock = ceilDiv(cut, bs)
	}
	d.mu.Lock()
	d.finished = false
	d.publishLocked(r)
	d.lastCommit = time.Now()
	d.stats.Records++
	d.stats.RecordBytes += data * bs
	d.stats.HeaderBlocks += h
	d.stats.CommitTime += time.Since(start)
	d.mu.Unlock()
	return nil
}

// durableSeqLocked is the sequence number of the first record not known
// to be durable: every record before it has been flushed.
// REQUIRES: mu held.
func (d *Device) durableSeqLocked() uint64 {
	for _, r := range d.recs {
		if r.end > d.durable {
			return r.seq
		}
	}
	return d.nextSeq
}

// publishLocked adds a written record to the log and the index.
// REQUIRES: mu held exclusively.
func (d *Device) publishLocked(r record) {
	d.recs = append(d.recs, r)
	d.head, d.nextSeq, d.prev, d.size = r.end, r.seq+1, r.crc, r.size
	d.indexLocked(r)
}

// indexLocked applies record r to the index: its cut, then its blocks.
// REQUIRES: mu held exclusively.
func (d *Device) indexLocked(r record) {
	if r.cutBlock != noCut {
		var gone []loc
		d.index.AscendGreaterOrEqual(loc{block: r.cutBlock}, func(l loc) bool {
			gone = append(gone, l)
			return true
		})
		for _, l := range gone {
			d.index.Delete(l)
		}
		d.zeroFrom = min(d.zeroFrom, r.cutBlock)
	}
	pos := r.lsn + r.hdrBlocks
	for _, e := range r.extents {
		for i := range int64(e.Count) {
			d.index.ReplaceOrInsert(loc{block: int64(e.LBlock) + i, lsn: pos + i})
		}
		pos += int64(e.Count)
	}
}

// rewindLocked puts the head back where the durable log ends, after a
// failed journal flush: the records past it may be lost although their
// writes succeeded, and their writer writes their data again. The next
// record overwrites them (its Prev chains it to the last durable one, so
// none of them can pass as its successor).
// REQUIRES: commitMu held, mu held exclusively.
func (d *Device) rewindLocked() {
	keep := 0
	for keep < len(d.recs) && d.recs[keep].end <= d.durable {
		keep++
	}
	clear(d.recs[keep:])
	d.recs = d.recs[:keep]
	d.head, d.nextSeq, d.prev, d.size = d.hdr.start, d.hdr.startSeq, d.hdr.startPrev, d.hdr.baseSize
	if keep > 0 {
		last := d.recs[keep-1]
		d.head, d.nextSeq, d.prev, d.size = last.end, last.seq+1, last.crc, last.size
	}
	d.durable = d.head
	d.rebuildIndexLocked()
	d.suspect, d.suspectErr = false, nil
	d.stats.Rewinds++
}

// suspectLocked marks the log suspect after a failed journal flush (err).
// REQUIRES: mu held exclusively.
func (d *Device) suspectLocked(err error) {
	if !d.suspect {
		d.suspect, d.suspectErr = true, err
	}
}

// rebuildIndexLocked makes the index and zeroFrom anew from recs.
// REQUIRES: mu held exclusively.
func (d *Device) rebuildIndexLocked() {
	d.index.Clear(false)
	d.zeroFrom = noCut
	for _, r := range d.recs {
		d.indexLocked(r)
	}
}

// Flush makes every committed transaction durable: one flush of the
// journal device, and one of the data device when units were written in
// place since the last (see CommitUnits; otherwise the data device is
// flushed by checkpoints only). It returns when both have returned.
func (d *Device) Flush() error {
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	if d.isClosed() {
		return &blockdev.OpError{Op: "flush", Off: -1, Err: blockdev.ErrClosed}
	}
	return d.flushLocked()
}

// isClosed reports whether Close or Detach has run.
func (d *Device) isClosed() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.closed
}

// flushLocked flushes the journal device and marks what it covered
// durable; after a failure the log is suspect (see Device.suspect) and
// flushes fail until a commit rewound it.
// REQUIRES: commitMu held.
func (d *Device) flushLocked() error {
	d.mu.Lock()
	if d.suspect && d.head == d.durable {
		d.suspect, d.suspectErr = false, nil // no record can have been lost
	}
	head, suspect, serr := d.head, d.suspect, d.suspectErr
	home, logged := d.homeDirty, d.head != d.durable
	d.mu.Unlock()
	if suspect {
		return fmt.Errorf("journal: a flush failed, the records since must be written again: %w", serr)
	}
	if home && !logged {
		return d.flushInPlaceLocked() // only units in place since the last flush: the journal has nothing new
	}
	// Units in place and records: the two devices flush at once, and
	// Flush returns when both have.
	homeErr := make(chan error, 1)
	if home {
		go func() { homeErr <- d.flushInPlaceLocked() }()
	} else {
		homeErr <- nil
	}
	start := time.Now()
	err := d.jdev.Flush()
	d.mu.Lock()
	d.stats.Flushes++
	d.stats.FlushTime += time.Since(start)
	if err != nil {
		d.suspectLocked(err)
		d.mu.Unlock()
		<-homeErr
		return fmt.Errorf("journal: flush: %w", err)
	}
	d.durable = max(d.durable, head)
	over := (d.durable-d.hdr.start)*d.bs > d.checkpointAtLocked()
	d.mu.Unlock()
	if over {
		select {
		case d.kick <- struct{}{}:
		default:
		}
	}
	return <-homeErr
}

// checkpointAtLocked is the fill (bytes) past which a checkpoint starts.
// REQUIRES: mu held.
func (d *Device) checkpointAtLocked() int64 {
	if d.opts.CheckpointAt > 0 {
		return d.opts.CheckpointAt
	}
	return d.area * d.bs / 2
}

// makeRoomLocked makes sure a record of n blocks fits between the head and
// the start: it flushes the journal and checkpoints until it does, and
// grows the journal (when the device can) for a record larger than it.
// REQUIRES: commitMu held.
func (d *Device) makeRoomLocked(n int64) error {
	if n > d.area {
		return d.growLocked(n)
	}
	for {
		d.mu.RLock()
		free := d.area - (d.head - d.hdr.start)
		d.mu.RUnlock()
		if n <= free {
			return nil
		}
		if err := d.flushLocked(); err != nil {
			return err
		}
		d.mu.Lock()
		d.stats.RoomWaits++
		d.mu.Unlock()
		d.ckptMu.Lock()
		d.mu.RLock()
		room := n <= d.area-(d.head-d.hdr.start)
		d.mu.RUnlock()
		if room { // the checkpoint it waited for (a background one) made room
			d.ckptMu.Unlock()
			return nil
		}
		moved, err := d.checkpointLocked(false)
		d.ckptMu.Unlock()
		if err != nil {
			return err
		}
		if !moved {
			d.mu.RLock()
			still := d.area-(d.head-d.hdr.start) < n
			d.mu.RUnlock()
			if still {
				return fmt.Errorf("%w: no room for a record of %d blocks", ErrTooLarge, n)
			}
		}
	}
}

// growLocked grows the journal so that a record of n blocks fits: it
// empties it (flush, checkpoint), then resets it over a larger area.
// REQUIRES: commitMu held.
func (d *Device) growLocked(n int64) error {
	if !d.growJournal {
		return fmt.Errorf("%w: a record of %d blocks, the journal holds %d", ErrTooLarge, n, d.area)
	}
	if err := d.flushLocked(); err != nil {
		return err
	}
	d.ckptMu.Lock()
	defer d.ckptMu.Unlock()
	if _, err := d.checkpointLocked(false); err != nil {
		return err
	}
	area := max(2*d.area, n+n/4)
	if err := d.resetLocked(area); err != nil {
		return err
	}
	d.mu.Lock()
	d.stats.Grows++
	d.mu.Unlock()
	return nil
}
