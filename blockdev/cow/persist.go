package cow

import "time"

// checkpointLocked makes the log durable (the checkpoint will refer to
// its data), writes the map to the spare checkpoint slot, then points both
// superblock copies at it, each write followed by a flush. The checkpoint
// and the first copy share a flush: if a crash keeps the copy but not all
// of the checkpoint, the checkpoint fails its checksum and Open uses the
// other copy, which still names the previous checkpoint, whose log and
// space are intact. (Format flushes the checkpoint first, as there is no
// previous one.) Only when both copies are durable does the log before the
// checkpoint stop mattering, so only then are segments without live data
// released for reuse. With bumpEpoch the
// superblock also starts a new epoch (Open does that, so that records left
// beyond the recovered log end can never be mistaken for new ones).
// REQUIRES: mu held.
func (d *Device) checkpointLocked(bumpEpoch bool) error {
	g := d.g
	slot := 1 - d.sb.ckptSlot
	c := checkpoint{devID: d.sb.devID, gen: d.sb.ckptGen + 1, startSeq: d.nextSeq, startPos: d.head, m: d.m}
	if err := d.flushLocked(); err != nil {
		return err
	}
	buf := d.bufferLocked(&d.stage, g.ckptBlocks*g.bs)
	c.encode(buf)
	if err := d.innerWriteLocked(buf, g.ckptSlot(int(slot)), 0); err != nil {
		return err
	}
	if d.sb.seq == 0 { // Format
		if err := d.innerFlushLocked(); err != nil {
			return err
		}
	}
	sb := d.sb
	sb.seq++
	sb.ckptSlot = slot
	sb.ckptGen = c.gen
	sb.ckptCRC = c.hdrCRC
	if bumpEpoch {
		sb.epoch++
	}
	if err := d.writeSuperblocksLocked(&sb); err != nil {
		return err
	}
	d.sb = sb
	d.logLen = 0
	d.stats.Checkpoints++
	for s := range d.segs {
		if d.segs[s].state == segUsed && d.segs[s].live == 0 {
			d.segs[s].state = segFree
			d.free = append(d.free, int64(s))
		}
	}
	return nil
}

// writeSuperblocksLocked writes sb to block 0, flushes, writes it to block
// 1 and flushes again: at every moment one copy holds a complete
// superblock, and the newest complete one is what Open uses.
// REQUIRES: mu held.
func (d *Device) writeSuperblocksLocked(sb *superblock) error {
	buf := d.bufferLocked(&d.stage, d.g.bs)
	for copyNo := range int64(sbBlocks) {
		sb.encode(buf)
		if err := d.innerWriteLocked(buf, copyNo, 0); err != nil {
			return err
		}
		if err := d.innerFlushLocked(); err != nil {
			return err
		}
	}
	return nil
}

// maybeCheckpointLocked checkpoints when the log since the last checkpoint
// has grown past the interval, which bounds recovery time.
// REQUIRES: mu held.
func (d *Device) maybeCheckpointLocked() error {
	if d.logLen < d.ckptEvery {
		return nil
	}
	defer d.timeLocked(&d.stats.CheckpointTime, time.Now())
	return d.checkpointLocked(false)
}
