package cow

import (
	"github.com/untorn/untorn/blockdev"
)

// How the container's file follows its use.
//
// The layout (see the package documentation) is as large as the capacity
// needs: both checkpoint slots and every segment. Over a regular file it
// need not exist whole: a container whose inner device is a
// blockdev.Resizable one (a file) shorter than its layout when Format or
// Open finds it keeps the file only as long as what it holds reaches
// (d.grows):
//
//   - Growth. Before a write past the end of the file, the file is grown
//     (blockdev.Resizer.Resize, ftruncate): to the end of the segment the
//     log writes into, so once per segment taken further out than any
//     before (the log takes the lowest free segment first, so in steady
//     state it takes none), never per Sync; and, while the data area is
//     not reached yet, to the end of a checkpoint or superblock. A grown
//     file is dirty: the size is durable with the next inner flush, which
//     every record, checkpoint and superblock needs anyway before anyone
//     relies on it (a FUA record is not used until then). Growing fills
//     nothing by itself: fillLocked fills a segment or not as over a file
//     of full size, and the head segment Format or Open would have filled
//     is filled when the file first grows to it.
//   - Shrinking. When a checkpoint has trimmed the free segments at the
//     top of those in use (releaseSpaceLocked), and at Open, the file is
//     cut to the end of the highest segment any root can still need: the
//     ones in use, those freed by the last checkpoint (given back one
//     checkpoint later, as discards are) and a segment filled ahead. A
//     failed cut is counted and changes nothing else, as a failed discard.
//   - Reading. Every read that reaches past the end of the file reads
//     zeros there, as a hole does: a power cut after a growth and before
//     the flush that would have made it durable leaves a file shorter than
//     a segment the log had started to use (or a checkpoint slot a root
//     names), and what was written there was not durable: replay finds no
//     valid record there, the end of the log; a root whose checkpoint is
//     missing is not intact, and the other one is taken. Neither is
//     corruption: a record that proves a missing one durable was written
//     after a flush, which made the size durable too.
//
// A file at least as long as the layout (every container written before
// this, or one that grew to it) keeps its size, as a block device does.
// The apparent size (ls -l) thus follows the highest segment in use, plus
// what is fixed by the format: the data area starts after both checkpoint
// slots, at block 2+2C for C = ceil((80+8N)/B) (N logical blocks), so a
// file that holds any data is at least 2+2C blocks and a segment long, and
// an empty new one 2+C+1 blocks (its second root's checkpoint).

// sizeControl breaks the rules above on purpose: the negative controls of
// the tests (Options.sizeControl); 0 in production.
type sizeControl uint8

const (
	sizeHonest sizeControl = iota
	// sizeNoGrow never grows the file for the log, which is then written
	// past its end.
	sizeNoGrow
	// sizeEarlyShrink also cuts the file, before the flush of a checkpoint,
	// to the highest segment that holds live data or the head: it cuts
	// segments the durable root still needs.
	sizeEarlyShrink
	// sizeReadPastEnd reads past the end of the file as any read out of
	// range: an error, not zeros.
	sizeReadPastEnd
)

// resizer returns the inner device as a Resizer.
// REQUIRES: d.grows.
func (d *Device) resizer() blockdev.Resizer { return d.inner.(blockdev.Resizer) }

// growLocked grows the inner file to end blocks, if it is shorter and the
// container follows its use (d.grows). A failed Resize is a failed write
// (ErrFailed; the next write recovers first).
// REQUIRES: mu held.
func (d *Device) growLocked(end int64) error {
	if !d.grows || end*d.g.bs <= d.inner.Size() {
		return nil
	}
	d.dirty = true
	if err := d.resizer().Resize(end * d.g.bs); err != nil {
		return d.failLocked(err)
	}
	d.stats.Resizes++
	return nil
}

// growHeadLocked makes the log head's segment exist in the inner file
// before the log writes into it at the head: the file grows to the
// segment's end. The head segment Format or Open left unfilled for lying
// past the end of the file is filled then (a segment the log moves into
// is filled, or not, by fillLocked before the log takes it).
// REQUIRES: mu held.
func (d *Device) growHeadLocked() error {
	end := d.g.segEnd(d.head)
	if !d.grows || end*d.g.bs <= d.inner.Size() || d.control == sizeNoGrow {
		return nil
	}
	if err := d.growLocked(end); err != nil {
		return err
	}
	if d.g.segOf(d.head) == d.fillOnGrow {
		d.fillOnGrow = -1
		d.fillHeadLocked()
	}
	return nil
}

// keepEndLocked is the end, in blocks, of what the inner file must keep:
// the segments in use, the ones the last checkpoint freed (the other root
// may need them until the next) and a segment filled ahead; the
// checkpoint slots lie below all of them.
// REQUIRES: mu held.
func (d *Device) keepEndLocked() int64 {
	top := int64(len(d.segs)) - 1
	for _, s := range d.discards {
		top = max(top, s)
	}
	top = max(top, d.filledAhead)
	return d.g.segStart(top + 1)
}

// shrinkLocked cuts the inner file to keepEndLocked when it is longer
// (see the top of this file). It is an optimisation: a failure is counted
// and changes nothing else.
// REQUIRES: mu held.
func (d *Device) shrinkLocked() { d.shrinkToLocked(d.keepEndLocked()) }

// shrinkToLocked cuts the inner file to end blocks when it is longer.
// REQUIRES: mu held.
func (d *Device) shrinkToLocked(end int64) {
	if !d.grows || end*d.g.bs >= d.inner.Size() {
		return
	}
	d.dirty = true
	if d.filledAhead >= 0 && d.g.segStart(d.filledAhead+1) > end {
		d.filledAhead = -1 // cut (only the sizeEarlyShrink control cuts so low)
	}
	if err := d.resizer().Resize(end * d.g.bs); err != nil {
		d.stats.ResizeErrors++
		return
	}
	d.stats.Resizes++
}

// trimLocked drops the free segments at the end of d.segs from memory
// (they become segments never taken), keeping at least one.
// REQUIRES: mu held.
func (d *Device) trimLocked() {
	for n := int64(len(d.segs)); n > 1 && len(d.free) > 0 && d.free[0] == n-1; n-- {
		d.free = d.free[1:]
		d.segs = d.segs[:n-1]
		d.rev = d.rev[:(n-1)*d.g.segBlocks]
	}
}

// earlyShrinkLocked is the sizeEarlyShrink control: it cuts the file to
// the highest segment with live data or the head, before the checkpoint
// that would free the others is durable.
// REQUIRES: mu held.
func (d *Device) earlyShrinkLocked() {
	if d.control != sizeEarlyShrink {
		return
	}
	top := d.g.segOf(d.head)
	for s := range int64(len(d.segs)) {
		if d.segs[s].live > 0 {
			top = max(top, s)
		}
	}
	d.shrinkToLocked(d.g.segStart(top + 1))
}

// readPastEnd reads n blocks at pos into buf when they reach past the end
// of a growing container's file: the part within it from the file, the
// rest zeros. It reports false when buf lies within the file (or the
// container does not grow), and the caller reads it.
// REQUIRES: mu held (shared is enough).
func (d *Device) readPastEnd(buf []byte, pos int64) (bool, error) {
	if !d.grows || d.control == sizeReadPastEnd {
		return false, nil
	}
	size := d.inner.Size()
	off := pos * d.g.bs
	if off+int64(len(buf)) <= size {
		return false, nil
	}
	in := max(0, min(int64(len(buf)), size-off))
	clear(buf[in:])
	if in > 0 {
		if _, err := d.inner.ReadAt(buf[:in], off); err != nil {
			return true, err
		}
	}
	return true, nil
}
