package journal

import (
	"fmt"
	"time"

	"github.com/untorn/untorn/blockdev"
)

// Units in place: the hardware first.
//
// With Options.InPlace, CommitUnits writes each untorn unit that the data
// device does in hardware (a naturally aligned power of two of at most
// its Limits.AtomicHardwareMax bytes) home at once with blockdev.Atomic,
// the way the kernel's buffered atomic writes use REQ_ATOMIC when the
// drive can and go out of place only when it cannot; the other units, the
// plain data and any size change form the transaction's record as before.
// Flush then flushes the data device too (only when units went home since
// the last one), at the same time as the journal (only when records were
// written since the last one), and returns when both flushes have.
//
// No stale image over newer data: a unit goes home in place only when no
// record in the log holds an image of any of its blocks (the index has
// none: the newest image of each block that is not home yet), no cut in
// the log reaches it (zeroFrom), and it lies within what the data device
// holds (homeEnd, its size) and within the file size of the durable log.
// Otherwise a replay, or a checkpoint of the records before it, could
// write an older image (or a cut) over it; such a unit goes through the
// journal until its last image is home, and the journal stays the only
// writer of its blocks until then. Commits (in place or logged) are
// serialised by commitMu, and a checkpoint only ever removes blocks from
// the index after their images are durable at home, so the check and the
// write cannot be overtaken.

// CommitUnits commits a group commit of independent parts (see
// blockdev.UnitDevice): each unit untorn on its own, rest plain data, the
// file size growing to size. Units the data device writes in hardware go
// home in place (Options.InPlace, see above); everything else is one
// record. Without FUA all of it is durable with the next Flush.
func (d *Device) CommitUnits(units [][]blockdev.Piece, rest []blockdev.Piece, size int64, flags blockdev.Flags) error {
	if err := d.commitUnits(units, rest, size, flags); err != nil {
		return &blockdev.OpError{Op: "commit units", Off: -1, Err: err}
	}
	return nil
}

func (d *Device) commitUnits(units [][]blockdev.Piece, rest []blockdev.Piece, size int64, flags blockdev.Flags) error {
	all := make([]blockdev.Piece, 0, len(rest)+len(units))
	for _, u := range units {
		all = append(all, u...)
	}
	all = append(all, rest...)
	if size < 0 || size > d.Size() {
		return fmt.Errorf("%w: size %d on a device of %d bytes", blockdev.ErrOutOfRange, size, d.Size())
	}
	// Everything is validated first: a refused commit writes nothing.
	if _, _, err := blockdev.CheckPieces(d.limits, d.Size(), all, d.Size()); err != nil {
		return err
	}
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	if err := d.writableLocked(); err != nil {
		return err
	}
	cur := d.size
	if size < cur {
		return fmt.Errorf("%w: size %d below the file size %d (CommitUnits cuts nothing)", blockdev.ErrOutOfRange, size, cur)
	}
	for _, p := range all {
		if end := p.Off + int64(len(p.Data)); end > ceilDiv(size, d.bs)*d.bs {
			return fmt.Errorf("%w: a piece ends at %d, past the new file size %d", blockdev.ErrOutOfRange, end, size)
		}
	}
	logged := rest
	if d.hwMax > 0 {
		logged = make([]blockdev.Piece, 0, len(all))
		for _, u := range units {
			if len(u) == 0 {
				continue
			}
			lo, n, ok := d.inPlaceUnitLocked(u)
			if !ok {
				logged = append(logged, u...)
				continue
			}
			if err := d.writeInPlaceLocked(u, lo, n); err != nil {
				return err
			}
		}
		logged = append(logged, rest...)
	} else {
		logged = all
	}
	sorted, total, err := blockdev.CheckPieces(d.limits, d.Size(), logged, d.Size())
	if err != nil {
		return err
	}
	return d.commitLocked(sorted, total, cur, size, flags)
}

// inPlaceUnitLocked reports whether unit u (its pieces) goes home in
// place, and if so its offset and length: its pieces tile a naturally
// aligned power of two the data device writes in hardware, and the rule
// above allows it.
// REQUIRES: commitMu held.
func (d *Device) inPlaceUnitLocked(u []blockdev.Piece) (int64, int, bool) {
	lo, hi := u[0].Off, u[0].Off
	for _, p := range u {
		if p.Off != hi {
			return 0, 0, false // a gap (or out of order): not one write
		}
		hi += int64(len(p.Data))
	}
	n := hi - lo
	if n == 0 || n > int64(d.hwMax) || !d.data.Limits().HardwareUnit(lo, int(n)) {
		return 0, 0, false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if hi > min(d.homeEnd, d.data.Size(), d.size, d.durableSizeLocked()) || hi/d.bs > d.zeroFrom {
		return 0, 0, false
	}
	if d.opts.Break&BreakInPlaceOverJournal == 0 {
		journaled := false
		d.index.AscendRange(loc{block: lo / d.bs}, loc{block: hi / d.bs}, func(loc) bool {
			journaled = true
			return false
		})
		if journaled {
			return 0, 0, false
		}
	}
	return lo, int(n), true
}

// durableSizeLocked is the file size the durable log leaves: the size of
// the last flushed record, else the one the header holds.
// REQUIRES: mu held.
func (d *Device) durableSizeLocked() int64 {
	size := d.hdr.baseSize
	for _, r := range d.recs {
		if r.end > d.durable {
			break
		}
		size = r.size
	}
	return size
}

// writeInPlaceLocked writes unit u ([lo, lo+n), its pieces) home with one
// Atomic write: from the caller's memory when it is one aligned piece,
// else assembled in unitBuf.
// REQUIRES: commitMu held.
func (d *Device) writeInPlaceLocked(u []blockdev.Piece, lo int64, n int) error {
	buf := u[0].Data
	if len(u) > 1 || !blockdev.IsAligned(buf, d.data.Limits().MemAlign) {
		if len(d.unitBuf) < n {
			d.unitBuf = blockdev.AlignedBuffer(d.hwMax, d.limits.MemAlign)
			d.unitCap.Store(int64(cap(d.unitBuf)))
		}
		buf = d.unitBuf[:n]
		pos := 0
		for _, p := range u {
			pos += copy(buf[pos:], p.Data)
		}
	}
	start := time.Now()
	_, err := d.data.WriteAt(buf, lo, blockdev.Atomic)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("journal: write the unit [%d, +%d) in place: %w", lo, n, err)
	}
	if d.opts.Break&BreakInPlaceOverJournal != 0 {
		// The broken rule, as a naive implementation would have it: reads
		// now go to the data device, but the log keeps the older images.
		var gone []loc
		d.index.AscendRange(loc{block: lo / d.bs}, loc{block: (lo + int64(n)) / d.bs}, func(l loc) bool {
			gone = append(gone, l)
			return true
		})
		for _, l := range gone {
			d.index.Delete(l)
		}
	}
	d.finished = false
	d.homeDirty = true
	d.lastCommit = time.Now()
	d.stats.InPlaceWrites++
	d.stats.InPlaceBytes += int64(n)
	d.stats.CommitTime += time.Since(start)
	return nil
}

// flushInPlaceLocked flushes the data device after units went home in
// place.
// REQUIRES: commitMu held.
func (d *Device) flushInPlaceLocked() error {
	start := time.Now()
	err := d.data.Flush()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats.InPlaceFlushes++
	d.stats.FlushTime += time.Since(start)
	if err != nil {
		return fmt.Errorf("journal: flush the units written in place: %w", err)
	}
	d.homeDirty = false
	return nil
}
