package torture

import (
	"fmt"

	"github.com/untorn/untorn/blockdev"
)

// Where the corruption campaign flips bits, and how.

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
