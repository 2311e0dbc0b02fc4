package cow

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/untorn/untorn/blockdev"
)

// Open recovers a COW device from dev: it reads the newest valid
// superblock, loads the checkpoint it names, replays the valid records
// after it in order (stopping at the first invalid one: a transaction whose
// last record is missing or damaged is not applied), then writes a new
// checkpoint in a new epoch. An unformatted device gives an error wrapping
// ErrNotFormatted, a damaged one an error wrapping ErrCorrupt. Of opts only
// CheckpointInterval is used; the layout comes from the superblock. The
// result owns dev: Close closes it.
func Open(dev blockdev.Device, opts Options) (*Device, error) {
	if opts.CheckpointInterval < 0 {
		return nil, fmt.Errorf("%w: CheckpointInterval %d", ErrInvalidOptions, opts.CheckpointInterval)
	}
	bs := mapBlockSize(dev.Limits().BlockSize)
	if dev.Size() < sbBlocks*bs {
		return nil, fmt.Errorf("%w: device of %d bytes", ErrNotFormatted, dev.Size())
	}
	sbs, err := readSuperblocks(dev, bs)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, sb := range sbs {
		d, err := openWith(dev, sb, opts)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// readSuperblocks returns the valid superblock copies, newest first.
func readSuperblocks(dev blockdev.Device, bs int64) ([]superblock, error) {
	buf := blockdev.AlignedBuffer(int(bs), dev.Limits().MemAlign)
	var sbs []superblock
	var errs []error
	formatted := false
	for i := range int64(sbBlocks) {
		if _, err := dev.ReadAt(buf, i*bs); err != nil {
			return nil, fmt.Errorf("cow: read superblock %d: %w", i, err)
		}
		sb, err := decodeSuperblock(buf)
		switch {
		case err != nil:
			formatted = formatted || !errors.Is(err, ErrNotFormatted)
			errs = append(errs, fmt.Errorf("superblock %d: %w", i, err))
		case sb.blockSize != bs || sb.geometry().innerBlocks()*bs > dev.Size():
			formatted = true
			errs = append(errs, fmt.Errorf("%w: superblock %d: block size %d and %d blocks do not match the device (%d, %d bytes)",
				ErrCorrupt, i, sb.blockSize, sb.geometry().innerBlocks(), bs, dev.Size()))
		default:
			formatted = true
			sbs = append(sbs, sb)
		}
	}
	if len(sbs) == 0 {
		if !formatted {
			return nil, ErrNotFormatted
		}
		return nil, errors.Join(errs...)
	}
	slices.SortStableFunc(sbs, func(a, b superblock) int { return -cmp.Compare(a.seq, b.seq) })
	return sbs, nil
}

// openWith recovers the device from one superblock copy.
func openWith(dev blockdev.Device, sb superblock, opts Options) (*Device, error) {
	g := sb.geometry()
	d := newDevice(dev, g, opts)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sb = sb
	buf := d.bufferLocked(&d.stage, g.ckptBlocks*g.bs)
	if err := d.innerRead(buf, g.ckptSlot(int(sb.ckptSlot))); err != nil {
		return nil, err
	}
	c, err := decodeCheckpoint(buf)
	switch {
	case err != nil:
		return nil, err
	case c.devID != sb.devID || c.gen != sb.ckptGen || c.hdrCRC != sb.ckptCRC || int64(len(c.m)) != g.nLogical:
		return nil, fmt.Errorf("%w: checkpoint generation %d does not match the superblock (%d)", ErrCorrupt, c.gen, sb.ckptGen)
	case !g.isData(c.startPos) || g.segEnd(c.startPos)-c.startPos < 2:
		return nil, fmt.Errorf("%w: checkpoint log start %d", ErrCorrupt, c.startPos)
	}
	if err := d.loadMapLocked(c.m); err != nil {
		return nil, err
	}
	if err := d.replayLocked(c.startPos, c.startSeq); err != nil {
		return nil, err
	}
	// The records just replayed may not be durable yet (a restart without
	// a power cut): the checkpoint that will refer to them must come after
	// a flush.
	d.dirty = true
	if err := d.checkpointLocked(true); err != nil {
		return nil, err
	}
	return d, nil
}

// loadMapLocked takes a checkpoint's map, checking every entry, and
// derives the reverse map and the live counts.
// REQUIRES: mu held.
func (d *Device) loadMapLocked(m []uint32) error {
	g := d.g
	ds := g.dataStart()
	for l, p := range m {
		if p == 0 {
			continue
		}
		if !g.isData(int64(p)) || d.rev[int64(p)-ds] != 0 {
			return fmt.Errorf("%w: checkpoint maps logical block %d to %d", ErrCorrupt, l, p)
		}
		d.rev[int64(p)-ds] = uint32(l + 1)
		d.segs[g.segOf(int64(p))].live++
	}
	d.m = m
	return nil
}
