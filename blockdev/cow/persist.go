package cow

import "time"

// checkpointLocked makes the log durable (the checkpoint will refer to
// its data), then writes a new root: the map into checkpoint slot g%2 of
// the next generation g, and superblock copy g%2 naming it, followed by
// one flush. The other root (copy and slot 1-g%2, generation g-1) is the
// newest valid one until then and is never touched, so a crash anywhere in
// here leaves it intact: if the new copy survives but its checkpoint is
// torn, the copy fails its check and Open uses the other root, whose log
// and space are intact because space is released only below, once the new
// root is durable. With bumpEpoch the root also starts a new epoch (Open
// and recovery do that, so that records left beyond the recovered log end
// can never be mistaken for new ones).
// REQUIRES: mu held.
func (d *Device) checkpointLocked(bumpEpoch bool) error {
	g := d.g
	sb := d.sb
	sb.flags = 0
	sb.ckptGen++
	if bumpEpoch {
		sb.epoch++
	}
	slot := sb.ckptSlot()
	c := checkpoint{devID: sb.devID, gen: sb.ckptGen, startSeq: d.nextSeq, startPos: d.head, size: d.size, m: d.m, sums: d.sums}
	if err := d.flushLocked(); err != nil {
		return err
	}
	// Only the map of the file as it is now: the rest of the slot (room
	// for the capacity) is never written.
	n := ceilDiv(checkpointLen(int64(len(d.m))), g.bs)
	buf := d.bufferLocked(&d.stage, n*g.bs)
	c.encode(buf)
	if err := d.growLocked(g.ckptSlot(slot) + n); err != nil {
		return err
	}
	if err := d.innerWriteLocked(buf, g.ckptSlot(slot), 0); err != nil {
		return err
	}
	sb.ckptCRC = c.hdrCRC
	d.dropStageLocked()
	if err := d.writeSuperblockLocked(&sb, int64(slot)); err != nil {
		return err
	}
	d.earlyShrinkLocked()
	if err := d.innerFlushLocked(); err != nil {
		return err
	}
	d.sb = sb
	d.logLen = 0
	d.stats.Checkpoints++
	var freed []int64
	for s := range d.segs {
		if d.segs[s].state == segUsed && d.segs[s].live == 0 {
			d.addFreeLocked(int64(s))
			freed = append(freed, int64(s))
		}
	}
	d.releaseSpaceLocked(freed)
	return nil
}

// writeSuperblockLocked writes sb to superblock copy copyNo (block copyNo).
// REQUIRES: mu held.
func (d *Device) writeSuperblockLocked(sb *superblock, copyNo int64) error {
	if err := d.growLocked(copyNo + 1); err != nil {
		return err
	}
	buf := d.bufferLocked(&d.stage, d.g.bs)
	sb.encode(buf)
	return d.innerWriteLocked(buf, copyNo, 0)
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
