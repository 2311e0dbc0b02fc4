package cow

import (
	"errors"
	"fmt"
	"github.com/untorn/untorn/blockdev/internal/logrec"

	"github.com/untorn/untorn/blockdev"
)

// Open recovers a COW device from dev: it reads both roots (superblock
// copies), takes the one with the newest generation whose checkpoint is
// intact (the other one only when the newest is torn or damaged), loads
// that checkpoint, replays the valid records after it in order (a
// transaction whose last record is missing or torn is not applied), then
// writes a new root in a new epoch, never over the root it recovered from.
//
// Errors: an unformatted device gives ErrNotFormatted (ErrIncompleteFormat
// when a Format was cut), another format version ErrVersion, damage that is
// not the torn tail of a crash ErrCorrupt naming where, and then Open has
// written nothing (unless opts.Salvage). Of opts only CheckpointInterval,
// NoReadDefrag and Salvage are used; the layout comes from the superblock.
// The result owns dev: Close closes it.
func Open(dev blockdev.Device, opts Options) (*Device, error) {
	if opts.CheckpointInterval < 0 {
		return nil, fmt.Errorf("%w: CheckpointInterval %d", ErrInvalidOptions, opts.CheckpointInterval)
	}
	bs := mapBlockSize(dev.Limits().BlockSize)
	if dev.Size() < sbBlocks*bs {
		return nil, fmt.Errorf("%w: device of %d bytes", ErrNotFormatted, dev.Size())
	}
	sbs, formatting, err := readSuperblocks(dev, bs)
	if err != nil {
		return nil, err
	}
	d := newDevice(dev, sbs[0].geometry(), opts)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.loadLocked(sbs); err != nil {
		if formatting && errors.Is(err, errRootInvalid) {
			// The one root is Format's first, torn: nothing was committed.
			return nil, fmt.Errorf("%w: %w", ErrIncompleteFormat, err)
		}
		return nil, err
	}
	return d, nil
}

// readSuperblocks returns the valid superblock copies that name a
// checkpoint, newest generation first, and whether the other copy is the
// mark of a Format (which then had not completed or not yet written its
// second root).
func readSuperblocks(dev blockdev.Device, bs int64) ([]superblock, bool, error) {
	buf := blockdev.AlignedBuffer(int(bs), dev.Limits().MemAlign)
	var sbs []superblock
	var errs []error
	formatted, formatting := false, false
	for i := range int64(sbBlocks) {
		if _, err := dev.ReadAt(buf, i*bs); err != nil {
			return nil, false, fmt.Errorf("cow: read superblock %d: %w", i, err)
		}
		sb, err := decodeSuperblock(buf)
		switch {
		case errors.Is(err, ErrVersion):
			return nil, false, fmt.Errorf("superblock %d: %w", i, err)
		case err != nil:
			formatted = formatted || !errors.Is(err, ErrNotFormatted)
			errs = append(errs, fmt.Errorf("superblock %d: %w", i, err))
		case sb.blockSize != bs || sb.geometry().innerBlocks()*bs > dev.Size() && !blockdev.Resizable(dev):
			// A file may be shorter than the layout: it grows with the
			// container (see filesize.go).
			formatted = true
			errs = append(errs, fmt.Errorf("%w: superblock %d: block size %d and %d blocks do not match the device (%d, %d bytes)",
				ErrCorrupt, i, sb.blockSize, sb.geometry().innerBlocks(), bs, dev.Size()))
		case sb.flags&sbFormatting != 0:
			formatting = true
		case sb.ckptSlot() != int(i):
			formatted = true
			errs = append(errs, fmt.Errorf("%w: superblock %d names checkpoint generation %d (slot %d)",
				ErrCorrupt, i, sb.ckptGen, sb.ckptSlot()))
		default:
			formatted = true
			sbs = append(sbs, sb)
		}
	}
	if len(sbs) == 0 {
		switch {
		case formatted:
			return nil, false, errors.Join(errs...)
		case formatting:
			return nil, false, ErrIncompleteFormat
		}
		return nil, false, ErrNotFormatted
	}
	logrec.NewestFirst(sbs, func(s superblock) uint64 { return s.ckptGen })
	return sbs, formatting, nil
}

// errRootInvalid marks a root whose checkpoint is torn or does not match
// its superblock copy: the other root is tried.
var errRootInvalid = errors.New("root invalid")

// loadLocked rebuilds the in-memory state from the first root of sbs that
// is valid (falling back only when a root's checkpoint is invalid, never
// past a damaged log), replays the log after it and writes a new root in a
// new epoch. It writes only after the replay succeeded.
// REQUIRES: mu held.
func (d *Device) loadLocked(sbs []superblock) error {
	var errs []error
	for _, sb := range sbs {
		err := d.loadRootLocked(sb)
		if err == nil {
			break
		}
		if !errors.Is(err, errRootInvalid) {
			return err
		}
		errs = append(errs, err)
		if len(errs) == len(sbs) {
			return errors.Join(errs...)
		}
	}
	// The records just replayed may not be durable yet (a restart without
	// a power cut): the checkpoint that will refer to them must come after
	// a flush.
	d.dirty = true
	if err := d.rewriteRepairsLocked(); err != nil {
		return err
	}
	if err := d.checkpointLocked(true); err != nil {
		return err
	}
	d.releaseAllLocked()
	d.fillHeadLocked()
	return nil
}

// loadRootLocked resets the in-memory state and loads it from one root:
// its checkpoint, then the log after it. An invalid checkpoint gives an
// error wrapping errRootInvalid (and ErrCorrupt).
// REQUIRES: mu held.
func (d *Device) loadRootLocked(sb superblock) error {
	g := sb.geometry()
	if g != d.g {
		return fmt.Errorf("%w: %w: the two superblock copies describe different layouts", ErrCorrupt, errRootInvalid)
	}
	d.resetLocked()
	d.sb = sb
	// The header says how much of the slot the checkpoint fills.
	buf := d.bufferLocked(&d.stage, g.bs)
	if err := d.innerRead(buf, g.ckptSlot(sb.ckptSlot())); err != nil {
		return err
	}
	if n := min(checkpointEntries(buf), g.nLogical); n > 0 {
		buf = d.bufferLocked(&d.stage, ceilDiv(checkpointLen(n), g.bs)*g.bs)
		if err := d.innerRead(buf, g.ckptSlot(sb.ckptSlot())); err != nil {
			return err
		}
	}
	c, err := decodeCheckpoint(buf)
	invalid := func(err error) error {
		return fmt.Errorf("checkpoint slot %d: %w: %w", sb.ckptSlot(), errRootInvalid, err)
	}
	switch {
	case errors.Is(err, ErrVersion):
		return err
	case err != nil:
		return invalid(err)
	case c.devID != sb.devID || c.gen != sb.ckptGen || c.hdrCRC != sb.ckptCRC:
		return invalid(fmt.Errorf("%w: checkpoint generation %d does not match its superblock (%d)", ErrCorrupt, c.gen, sb.ckptGen))
	case !g.isData(c.startPos) || g.segEnd(c.startPos)-c.startPos < 2:
		return invalid(fmt.Errorf("%w: checkpoint log start %d", ErrCorrupt, c.startPos))
	case c.size > g.nLogical*g.bs || int64(len(c.m)) != ceilDiv(c.size, g.bs):
		return invalid(fmt.Errorf("%w: checkpoint of a %d-byte file holds %d map entries", ErrCorrupt, c.size, len(c.m)))
	}
	if err := d.loadMapLocked(c.m, c.sums, c.size); err != nil {
		return err
	}
	d.dropStageLocked()
	return d.replayLocked(c.startPos, c.startSeq)
}

// resetLocked empties the in-memory state before a root is loaded.
// REQUIRES: mu held.
func (d *Device) resetLocked() {
	d.rev, d.segs, d.m, d.sums, d.size, d.liveBlocks = d.rev[:0], d.segs[:0], nil, nil, 0, 0
	d.free, d.discards = d.free[:0], d.discards[:0]
	d.logLen = 0
	d.dirty = false
	d.repairs = nil
}

// loadMapLocked takes a checkpoint's map and block checksums, checking
// every entry, and derives the reverse map and the live counts.
// REQUIRES: mu held.
func (d *Device) loadMapLocked(m, sums []uint32, size int64) error {
	g := d.g
	ds := g.dataStart()
	for l, p := range m {
		if p == 0 {
			continue
		}
		if !g.isData(int64(p)) {
			return fmt.Errorf("%w: checkpoint maps logical block %d to %d", ErrCorrupt, l, p)
		}
		d.growSegsLocked(g.segOf(int64(p)))
		if d.rev[int64(p)-ds] != 0 {
			return fmt.Errorf("%w: checkpoint maps logical block %d to %d", ErrCorrupt, l, p)
		}
		d.rev[int64(p)-ds] = uint32(l + 1)
		d.segs[g.segOf(int64(p))].live++
		d.liveBlocks++
	}
	d.m, d.sums, d.size = m, sums, size
	return nil
}
