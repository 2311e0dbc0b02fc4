package torture

import (
	"bytes"
	"fmt"

	"github.com/untorn/untorn/blockdev"
)

// Where the corruption campaign flips bits: in the device of the machine
// that holds checksums (the container, or the journal), with a bias
// towards the few blocks whose damage matters most.

// flipDevice returns the device of mach whose bits the corruption campaign
// flips: the journal in journal mode (the data device is a plain file), the
// container otherwise.
func (p Profile) flipDevice(mach machine) *blockdev.Mem {
	if j := mach.journal(); j != nil {
		return j
	}
	return mach.data()
}

// metaBlocks is how many blocks at the start of a container hold its
// superblocks and checkpoints on the campaign's small devices (see the
// on-disk format in package blockdev/cow: two superblocks, then two
// checkpoint slots, one block each for a file of 128 KiB).
const metaBlocks = 4

// Journal layout (see the on-disk format in package blockdev/journal):
// blocks 0 and 1 hold the header copies, of which the first
// journalHeaderBytes bytes mean something; the record area follows.
const (
	journalHeaderBlocks = 2
	journalHeaderBytes  = 128
)

// flipTarget picks the byte of dev (the profile's flipDevice) to damage.
// In a container: a quarter of the time in the superblocks and checkpoints
// (a few blocks out of hundreds, which uniform picks would hardly ever
// hit), otherwise anywhere on the device. In a journal: a quarter of the
// time in the encoded part of a header copy, otherwise anywhere in a block
// of the record area that holds something (a record of this lap of the
// ring or an older one; blocks still as Format left them, zeros, belong to
// no record).
func (c *caseRun) flipTarget(dev *blockdev.Mem) (int64, error) {
	bs := int64(dev.Limits().BlockSize)
	if !c.Profile.Journal() {
		if c.rng.IntN(4) == 0 {
			return c.rng.Int64N(metaBlocks * bs), nil
		}
		return c.rng.Int64N(dev.Size()), nil
	}
	if c.rng.IntN(4) == 0 {
		return c.rng.Int64N(journalHeaderBlocks)*bs + c.rng.Int64N(journalHeaderBytes), nil
	}
	used, err := writtenBlocks(dev, journalHeaderBlocks)
	if err != nil || len(used) == 0 {
		return c.rng.Int64N(dev.Size()), err
	}
	return used[c.rng.IntN(len(used))]*bs + c.rng.Int64N(bs), nil
}

// writtenBlocks returns the blocks of dev from block first on that are not
// all zeros, ascending.
func writtenBlocks(dev *blockdev.Mem, first int64) ([]int64, error) {
	bs := int64(dev.Limits().BlockSize)
	buf := blockdev.AlignedBuffer(int(dev.Size()), dev.Limits().MemAlign)
	if _, err := dev.ReadAt(buf, 0); err != nil {
		return nil, violation(Unexpected, err, "read the device to pick a bit to flip")
	}
	zero := make([]byte, bs)
	var out []int64
	for b := first; b < dev.Size()/bs; b++ {
		if !bytes.Equal(buf[b*bs:(b+1)*bs], zero) {
			out = append(out, b)
		}
	}
	return out, nil
}

// region names the part of dev (the profile's flipDevice) that holds byte
// off, after the documented on-disk formats.
func (p Profile) region(dev *blockdev.Mem, off int64) string {
	blk := off / int64(dev.Limits().BlockSize)
	switch {
	case p.Journal() && blk < journalHeaderBlocks:
		return fmt.Sprintf("journal header copy %d", blk)
	case p.Journal():
		return fmt.Sprintf("journal block %d, record area", blk)
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
