package torture

import (
	"errors"
	"fmt"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
)

// The corruption campaign: a random workload ending in a successful Sync,
// then either a clean Close or a few more writes and a power cut; then,
// corruptionFlips times, one random bit of a copy of the device image is
// flipped (anywhere: superblocks, checkpoints, log records, data, free
// space) and the copy is reopened and read whole. Acceptable: an error
// wrapping cow.ErrCorrupt from OpenDevice or ReadAt (detected), or an
// image the model accepts (harmless: every synced write present and whole,
// nothing phantom). Anything else is Silent: wrong data without an error.
// A native file is a plain file without checksums, so a flipped data bit
// there cannot be detected by design: the campaign runs on COW profiles.

const corruptionFlips = 6

func runCorruption(c *caseRun) error {
	steps, err := c.workload()
	if err != nil {
		return err
	}
	img, m, how, err := c.syncedImage(steps)
	if err != nil {
		return err
	}
	snap := m.Snapshot()
	for range corruptionFlips {
		dev := img.CrashClone(blockdev.CrashConfig{}) // an exact copy: img has no volatile writes
		off, bit := c.flipTarget(dev), c.rng.IntN(8)
		if err := flipBit(dev, off, bit); err != nil {
			return err
		}
		c.Stats.Corruptions++
		c.Stats.Checks++
		data, err := c.readImage(dev)
		switch {
		case errors.Is(err, cow.ErrCorrupt):
			c.Stats.Detected++
			continue
		case err != nil:
			c.fail(annotate(err, "%s, bit %d of byte %d (%s) flipped", how, bit, off, region(dev, off)))
			continue
		}
		if err := c.checker.Check(m, snap, data); err != nil {
			c.fail(&Violation{Class: Silent, Err: err,
				Detail: fmt.Sprintf("%s, bit %d of byte %d (%s) flipped, no error", how, bit, off, region(dev, off))})
			continue
		}
		c.Stats.Harmless++
	}
	return nil
}

// syncedImage runs steps and a Sync on a new File, then closes it or
// writes a little more and cuts the power (at random), and returns the
// image, the model and which of the two it did.
func (c *caseRun) syncedImage(steps []step) (*blockdev.Mem, *Model, string, error) {
	mem, err := c.Profile.newMem()
	if err != nil {
		return nil, nil, "", err
	}
	f, err := c.Profile.open(mem)
	if err != nil {
		return nil, nil, "", annotate(err, "open a new device")
	}
	m := NewModel(f.Size())
	x := &executor{f: f, m: m, p: c.Profile}
	if err := x.run(steps); err != nil {
		_ = f.Abandon()
		return nil, nil, "", err
	}
	if _, err := x.sync(); err != nil {
		_ = f.Abandon()
		return nil, nil, "", err
	}
	if c.rng.IntN(2) == 0 {
		if err := x.close(); err != nil {
			return nil, nil, "", err
		}
		return mem.CrashClone(blockdev.CrashConfig{}), m, "after Close", nil
	}
	more := genWrites(c.rng, f.Size(), c.Profile.Options.MaxAtomic, 4)
	if err := x.run(more); err != nil {
		_ = f.Abandon()
		return nil, nil, "", err
	}
	img := mem.CrashClone(c.crashConfig())
	_ = f.Abandon()
	return img, m, "after a power cut", nil
}

// metaBlocks is how many blocks at the start of a container hold its
// superblocks and checkpoints on the campaign's small devices (see the
// on-disk format in package blockdev/cow: two superblocks, then two
// checkpoint slots, one block each for a file of 128 KiB).
const metaBlocks = 4

// flipTarget picks the byte to damage: a quarter of the time in the
// superblocks and checkpoints (a few blocks out of hundreds, which uniform
// picks would hardly ever hit), otherwise anywhere on the device.
func (c *caseRun) flipTarget(dev *blockdev.Mem) int64 {
	if c.rng.IntN(4) == 0 {
		return c.rng.Int64N(metaBlocks * int64(dev.Limits().BlockSize))
	}
	return c.rng.Int64N(dev.Size())
}

// region names the part of the container that holds byte off, after the
// documented on-disk format.
func region(dev *blockdev.Mem, off int64) string {
	blk := off / int64(dev.Limits().BlockSize)
	switch {
	case blk < 2:
		return fmt.Sprintf("superblock copy %d", blk)
	case blk < metaBlocks:
		return fmt.Sprintf("checkpoint slot %d", blk-2)
	}
	return fmt.Sprintf("block %d, data area", blk)
}

// flipBit flips one bit of the byte at off of dev, durably.
func flipBit(dev *blockdev.Mem, off int64, bit int) error {
	bs := int64(dev.Limits().BlockSize)
	blk := off / bs * bs
	buf := blockdev.AlignedBuffer(int(bs), dev.Limits().MemAlign)
	if _, err := dev.ReadAt(buf, blk); err != nil {
		return violation(Unexpected, err, "read block %d to flip a bit", blk/bs)
	}
	buf[off-blk] ^= 1 << bit
	if _, err := dev.WriteAt(buf, blk, 0); err != nil {
		return violation(Unexpected, err, "write block %d back", blk/bs)
	}
	if err := dev.Flush(); err != nil {
		return violation(Unexpected, err, "flush the flipped bit")
	}
	return nil
}
