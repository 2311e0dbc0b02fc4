package torture

import (
	"errors"
	"fmt"

	"github.com/untorn/untorn/atomicio"
)

// The corruption campaign: a random workload ending in a successful Sync,
// then either a clean Close or a few more writes and a power cut; then,
// corruptionFlips times, one random bit of a copy of the image is flipped
// and the copy is reopened and read whole. Acceptable: an error wrapping
// atomicio.ErrCorrupt (which is blockdev.ErrCorrupt, and cow's and
// journal's) from the open or ReadAt (detected), or an image the model
// accepts (harmless: every synced write present and whole, nothing
// phantom). Anything else is Silent: wrong data without an error.
//
// Where the bit goes (see flipTarget): in a COW container, anywhere
// (superblocks, checkpoints, log records, data, free space). In journal
// mode, in the journal device only (its header copies and its records):
// the data device holds the file in the caller's layout, a plain file
// without checksums by design, where a flipped bit is as undetectable as
// in a native file; damage to it is not this campaign's subject. And a
// journal is empty after a clean Close (everything went home), so a
// journal profile always takes the second shape, the power cut after the
// Sync, which leaves the records of the Syncs since the last checkpoint
// in the journal for recovery to read. A native file is a plain file, so
// the campaign runs on the profiles with a log (Profile.Logged).
//
// Not covered: more than one flipped bit in an image (a torn write can
// look like that, and the journal may then drop its unproven tail, which
// its doc states), and damage to a journal's records that were never
// flushed.

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
		mach := img.copy()
		dev := c.Profile.flipDevice(mach)
		off, err := c.flipTarget(dev)
		if err != nil {
			return err
		}
		bit := c.rng.IntN(8)
		if err := flipBit(dev, off, bit); err != nil {
			return err
		}
		where := fmt.Sprintf("%s, bit %d of byte %d (%s) flipped", how, bit, off, c.Profile.region(dev, off))
		c.Stats.Corruptions++
		c.Stats.Checks++
		data, err := c.readImage(mach)
		switch {
		case errors.Is(err, atomicio.ErrCorrupt):
			c.Stats.Detected++
			continue
		case err != nil:
			c.fail(annotate(err, "%s", where))
			continue
		}
		if err := c.checker.Check(m, snap, data); err != nil {
			c.fail(&Violation{Class: Silent, Err: err, Detail: where + ", no error"})
			continue
		}
		c.Stats.Harmless++
	}
	return nil
}

// syncedImage runs steps and a Sync on a new File, then closes it or
// writes a little more and cuts the power (at random; always the cut for a
// journal profile, whose journal a Close empties), and returns the image,
// the model and which of the two it did.
func (c *caseRun) syncedImage(steps []step) (machine, *Model, string, error) {
	mach, err := c.Profile.newMachine()
	if err != nil {
		return nil, nil, "", err
	}
	f, err := c.Profile.open(mach, nil)
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
	if c.rng.IntN(2) == 0 && !c.Profile.Journal() {
		if err := x.close(); err != nil {
			return nil, nil, "", err
		}
		return mach.copy(), m, "after Close", nil
	}
	more := genWrites(c.rng, f.Size(), c.Profile.Options.MaxAtomic, 4)
	if err := x.run(more); err != nil {
		_ = f.Abandon()
		return nil, nil, "", err
	}
	img := mach.cut(c.crashConfig())
	_ = f.Abandon()
	return img, m, "after a power cut", nil
}
