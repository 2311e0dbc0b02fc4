package cow

import (
	"slices"

	"github.com/untorn/untorn/blockdev"
)

// How the container grows and shrinks on the inner device.
//
// The layout has room for nSegs segments (enough for the capacity plus its
// headroom), but only the segments in d.segs exist: a new container has
// one, and the log takes a new one (the next in order) only when no
// segment in use is free. So a container holds about what its live data
// needs on disk, not its capacity: over a sparse file the segments never
// taken are holes.
//
// The cleaner keeps the segments in use within a budget that follows the
// live data (budgetSegsLocked): the live blocks plus the spare percentage
// of them, plus the reserve a MaxBatch and the cleaner need. Below the
// budget the log grows into new segments; at it the cleaner frees
// segments first.
//
// A checkpoint frees the segments that hold no live data. One checkpoint
// later, when no root can need what they hold, the ones still free are
// given back to an inner blockdev.Discarder (a hole punched in a file),
// and free segments at the end of d.segs are dropped from memory; except
// the warm ones, the free segments the log will take before the cleaner
// must run (the lowest spaceLocked of them): those it would only have to
// allocate again.
//
// Over a file (an inner device that tells its allocated space) the log
// writes a segment whole with zeros before it takes it (fillLocked), when
// the segment it leaves saw a flush per fillFlushBytes and this
// process has not filled the next one already (and given it back since).
// A flush after a write into a hole or an unwritten extent commits the
// file system's metadata (on ext4 a journal commit, about as costly as the
// flush itself); after the fill, one commit covers the segment and every
// later flush of the log's writes into it carries data only. The fill
// writes the segment twice, so it pays only where flushes are many and
// small (SQLite commits: 207 -> 112 us for a 4 KiB write and Sync on
// ext4); for a few large flushes per segment it costs more than it saves
// (examples/bench write-16k, fresh, 64 pages per Sync: 16.5 -> 23.8 us per
// page with every segment filled), so those skip it.

// growSegsLocked makes segments up to s (inclusive) exist in memory.
// REQUIRES: mu held, s < nSegs.
func (d *Device) growSegsLocked(s int64) {
	n := s + 1 - int64(len(d.segs))
	if n <= 0 {
		return
	}
	d.segs = slices.Grow(d.segs, int(n))
	d.rev = slices.Grow(d.rev, int(n*d.g.segBlocks))
	for range n {
		d.segs = append(d.segs, segment{})
		d.rev = append(d.rev, make([]uint32, d.g.segBlocks)...)
	}
}

// freeCountLocked is the number of segments the log can still take: the
// free ones in use and the ones never taken.
// REQUIRES: mu held.
func (d *Device) freeCountLocked() int64 {
	return int64(len(d.free)) + d.g.nSegs - int64(len(d.segs))
}

// nextFreeLocked returns the segment takeFreeLocked takes next: the lowest
// free one, else the next never taken.
// REQUIRES: mu held.
func (d *Device) nextFreeLocked() (int64, bool) {
	if n := len(d.free); n > 0 {
		return d.free[n-1], true
	}
	if s := int64(len(d.segs)); s < d.g.nSegs {
		return s, true
	}
	return 0, false
}

// takeFreeLocked makes nextFreeLocked's segment the head segment.
// REQUIRES: mu held, freeCountLocked() > 0.
func (d *Device) takeFreeLocked() {
	s, _ := d.nextFreeLocked()
	if n := len(d.free); n > 0 {
		d.free = d.free[:n-1]
	} else {
		d.growSegsLocked(s)
	}
	d.takes++
	d.headFlushes = 0
	d.segs[s].state = segHead
	d.segs[s].taken = d.takes
	if s == d.filledAhead {
		d.segs[s].filled, d.filledAhead = true, -1
	}
}

// addFreeLocked marks segment s free, keeping d.free in descending order.
// REQUIRES: mu held.
func (d *Device) addFreeLocked(s int64) {
	d.segs[s].state = segFree
	i, _ := slices.BinarySearchFunc(d.free, s, func(a, b int64) int { return int(b - a) })
	d.free = slices.Insert(d.free, i, s)
}

// budgetSegsLocked is how many segments the container may hold before the
// cleaner must free some: the live data with its spare percentage, two
// segments of packing slack, and the reserve (see reserveSegments).
// REQUIRES: mu held.
func (d *Device) budgetSegsLocked() int64 {
	g := d.g
	return min(g.nSegs, ceilDiv(d.liveBlocks*(100+g.spare), 100*g.segBlocks)+2+g.reserveSegments())
}

// spaceLocked is how many more segments the log may take before the
// cleaner must run: within the budget, and within the layout.
// REQUIRES: mu held.
func (d *Device) spaceLocked() int64 {
	inUse := int64(len(d.segs) - len(d.free))
	return max(0, min(d.freeCountLocked(), d.budgetSegsLocked()-inUse))
}

// releaseSpaceLocked runs after a checkpoint made the segments in freed
// free: it gives the segments the checkpoint before freed back to the
// inner device when they are still free (no root can need them now),
// remembers freed for the next checkpoint, and drops the free segments at
// the end of d.segs from memory.
// REQUIRES: mu held.
func (d *Device) releaseSpaceLocked(freed []int64) {
	for _, s := range d.discards {
		if s >= int64(len(d.segs)) || d.segs[s].state == segFree && !d.warmLocked(s) {
			d.discardSegLocked(s)
		}
	}
	d.discards = append(d.discards[:0], freed...)
	d.trimLocked()
	d.shrinkLocked()
}

// fillFlushBytes: fillLocked fills the next segment when the head segment
// saw a flush per fillFlushBytes of it or more (32 in a 4 MiB segment): at
// about 100 us of metadata commit saved per flush and 2 ms to write 4 MiB
// of zeros, the fill pays from about 20.
const fillFlushBytes = 128 << 10

// fillLocked writes segment s whole with zeros, once, before the log takes
// it, when the inner device is a file, s is not filled yet and the head
// segment saw a flush per fillFlushBytes. s is free:
// no root maps anything to it, and recovery reads zeros there as the end
// of the log, as it reads whatever a hole or an old record holds.
// REQUIRES: mu held, s free or never taken.
func (d *Device) fillLocked(s int64) error {
	if s < int64(len(d.segs)) && d.segs[s].filled || int64(d.headFlushes)*fillFlushBytes < d.g.segBlocks*d.g.bs {
		return nil
	}
	if !d.overFile {
		return nil
	}
	if err := d.growLocked(d.g.segStart(s) + d.g.segBlocks); err != nil {
		return err
	}
	if err := d.writeZeros(d.g.segStart(s), d.g.segBlocks); err != nil {
		return d.failLocked(err)
	}
	if s < int64(len(d.segs)) {
		d.segs[s].filled = true
	} else {
		d.filledAhead = s // never taken: takeFreeLocked makes it exist
	}
	d.stats.Fills++
	return nil
}

// fillHeadLocked writes zeros from the log head to the end of its
// segment when the inner device is a file and the segment is not filled
// (Format and Open call it; past the head the log holds nothing anyone
// reads). It is an optimisation: a failed write is ignored and leaves the
// segment unfilled. A head segment past the end of a file that grows with
// the container is filled when the file grows to it (growHeadLocked).
// REQUIRES: mu held.
func (d *Device) fillHeadLocked() {
	s := d.g.segOf(d.head)
	if d.segs[s].filled {
		return
	}
	if !d.overFile {
		return
	}
	if d.g.segEnd(d.head)*d.g.bs > d.inner.Size() {
		d.fillOnGrow = s // when the file grows to it
		return
	}
	if err := d.writeZeros(d.head, d.g.segEnd(d.head)-d.head); err != nil {
		return
	}
	d.segs[s].filled = true
	d.stats.Fills++
}

// warmLocked reports whether free segment s is one of the lowest
// spaceLocked() free segments, which the log takes next.
// REQUIRES: mu held.
func (d *Device) warmLocked(s int64) bool {
	w := int(min(d.spaceLocked(), int64(len(d.free))))
	return w > 0 && s < int64(len(d.segs)) && d.segs[s].state == segFree && s <= d.free[len(d.free)-w]
}

// discardSegLocked gives segment s back to the inner device.
// REQUIRES: mu held.
func (d *Device) discardSegLocked(s int64) {
	if s < int64(len(d.segs)) {
		d.segs[s].filled = false
	}
	d.discardLocked(d.g.segStart(s), d.g.segBlocks)
}

// discardLocked gives n blocks at block pos back to the inner device, if
// it can take them. It is an optimisation: a refusal is counted, not
// reported, and changes nothing else (the blocks hold nothing anyone
// needs either way).
// REQUIRES: mu held.
func (d *Device) discardLocked(pos, n int64) {
	dc, ok := d.inner.(blockdev.Discarder)
	if !ok {
		return
	}
	if d.grows {
		n = min(n, d.inner.Size()/d.g.bs-pos) // past the end of the file is nothing to give back
		if n <= 0 {
			return
		}
	}
	d.dirty = true
	d.filledAhead = -1 // it may have been given back
	if err := dc.Discard(pos*d.g.bs, n*d.g.bs); err != nil {
		d.stats.DiscardErrors++
		return
	}
	d.stats.Discards++
}

// releaseAllLocked gives every free segment and the never taken rest of
// the layout back to the inner device (Open does this once its new root
// is durable: a crash or a killed process may have left them allocated).
// The rest of the layout is discarded only on an inner device that tells
// its allocated space (a file), where one call covers it; over a file
// that grows with the container, the free segments at the top are
// dropped and the file is cut after the highest segment in use instead.
// REQUIRES: mu held.
func (d *Device) releaseAllLocked() {
	d.discards = d.discards[:0]
	if d.grows {
		d.trimLocked()
		d.shrinkLocked()
	}
	for _, s := range d.free {
		if !d.warmLocked(s) {
			d.discardSegLocked(s)
		}
	}
	if d.overFile && !d.grows {
		if start := d.g.segStart(int64(len(d.segs))); start < d.g.innerBlocks() {
			d.discardLocked(start, d.g.innerBlocks()-start)
		}
	}
}
