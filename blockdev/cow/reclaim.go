package cow

import (
	"cmp"
	"fmt"
	"github.com/untorn/untorn/blockdev/internal/logrec"
	"slices"
	"time"
)

// cleanerReserve is how many free segments user writes leave to the
// cleaner, which needs room to move live data before it frees anything.
const cleanerReserve = 2

// ensureSpaceLocked makes sure a transaction of n data blocks finds the
// free segments it may need. Below a soft watermark (need plus a slack
// of 1/64 of the segments, at least 2) it cleans first, back to the
// watermark (plus Options.cleanBand segments, which only tests set); it
// fails only when even the hard need cannot be met.
//
// Cleaning beyond the watermark makes rounds, and the checkpoint that
// ends each, fewer and larger. Measured with examples/bench (256 MiB,
// aged, 16 KiB pages, ext4, alternating runs): with 4 segments beyond it
// the round checkpoints went from 2.0-2.4 to 0.6-0.7 us per page and the
// bytes written per byte from 1.32 to 1.27, but time per page moved
// within the runs' noise (26.8-36.1 against 27.9-38.1 us) while the
// slowest Syncs got about three times slower (p99 31-40 ms against
// 9.5-13 ms; 2 segments: 14-26 ms). A storage engine waits on those, so
// the commit path cleans back to the watermark only.
// REQUIRES: mu held.
func (d *Device) ensureSpaceLocked(n int64) error {
	need := d.g.segmentsFor(n, d.headRoomLocked()) + cleanerReserve
	if d.spaceLocked() >= need+d.slack() {
		return nil
	}
	defer d.timeLocked(&d.stats.CleanTime, time.Now())
	return d.reclaimLocked(need, d.cleanBand)
}

// slack is how many free segments beyond the immediate need the cleaner
// aims for.
// Free segments are space the cleaner cannot use to spread live data, so
// the slack is small: it trades checkpoints (one per round) against write
// amplification.
func (d *Device) slack() int64 { return max(2, int64(len(d.segs))/64) }

// reclaimLocked runs cleaning rounds until need plus slack plus band
// segments are free or a round gains no space. A round moves the live data of the
// emptiest segments to the log head, then checkpoints, which releases
// every segment without live data. Greedy choice by live count is what
// keeps the space overhead bounded: while the logical data fits, some
// segment holds no more than the average.
// REQUIRES: mu held.
func (d *Device) reclaimLocked(need, band int64) error {
	target := need + d.slack() + band
	for d.spaceLocked() < target {
		before := d.availableLocked()
		emptied, err := d.cleanRoundLocked(target)
		if err != nil {
			return err
		}
		if emptied == 0 {
			break // nothing to gain: the log grows instead (within the layout)
		}
		if err := d.cleanCheckpointLocked(); err != nil {
			return err
		}
		if d.availableLocked() <= before {
			break
		}
	}
	if d.freeCountLocked() < need {
		return fmt.Errorf("%w: %d free segments, %d needed", ErrNoSpace, d.freeCountLocked(), need)
	}
	return nil
}

// availableLocked is the number of blocks the log can still take.
// REQUIRES: mu held.
func (d *Device) availableLocked() int64 {
	return d.spaceLocked()*d.g.segBlocks + d.headRoomLocked()
}

// cleanRoundLocked moves live data out of victims, emptiest first, until
// the free segments plus the emptied ones reach target, or no victim can
// be moved with the free space left.
// REQUIRES: mu held.
// It returns how many segments it emptied (or found empty).
func (d *Device) cleanRoundLocked(target int64) (int64, error) {
	g := d.g
	var victims []int64
	for s, sg := range d.segs {
		if sg.state == segUsed {
			victims = append(victims, int64(s))
		}
	}
	slices.SortFunc(victims, func(a, b int64) int { return cmp.Compare(d.segs[a].live, d.segs[b].live) })
	emptied := int64(0)
	for _, s := range victims {
		if d.spaceLocked()+emptied >= target {
			break
		}
		live := int64(d.segs[s].live)
		if live > 0 {
			if live+2 >= g.segBlocks || d.freeCountLocked() < g.segmentsFor(live, d.headRoomLocked()) {
				break
			}
			if err := d.relocateLocked(s); err != nil {
				return emptied, err
			}
		}
		emptied++
	}
	return emptied, nil
}

// relocateLocked moves the live blocks of segment s to the log head as one
// transaction, in logical order (which also defragments).
// REQUIRES: mu held.
func (d *Device) relocateLocked(s int64) error {
	g := d.g
	bs, ds := g.bs, g.dataStart()
	start := g.segStart(s)
	sb := d.getSegBuffer(g.segBlocks * bs)
	defer putSegBuffer(sb)
	buf := *sb
	type liveBlock struct{ l, i int64 }
	var live []liveBlock
	var at []int64 // the live blocks' offsets in the segment, ascending
	for i := range g.segBlocks {
		if r := d.rev[start+i-ds]; r != 0 {
			live = append(live, liveBlock{l: int64(r) - 1, i: i})
			at = append(at, i)
		}
	}
	readStart := time.Now()
	err := d.readRunsLocked(buf, planVictimReads(at, bs, start))
	d.timeLocked(&d.stats.CleanReadTime, readStart)
	if err != nil {
		return err
	}
	slices.SortFunc(live, func(a, b liveBlock) int { return cmp.Compare(a.l, b.l) })
	var runs []run
	for k := 0; k < len(live); {
		j := k + 1
		for j < len(live) && live[j].l == live[j-1].l+1 && live[j].i == live[j-1].i+1 {
			j++
		}
		runs = append(runs, run{lblock: live[k].l, data: buf[live[k].i*bs : (live[j-1].i+1)*bs]})
		k = j
	}
	d.stats.CleanedBlocks += int64(len(live))
	return d.writeTxnLocked(runs, logrec.FlagClean, d.size, d.size, false)
}

// cleanCheckpointLocked writes the checkpoint that ends a cleaning round.
// REQUIRES: mu held.
func (d *Device) cleanCheckpointLocked() error {
	defer d.timeLocked(&d.stats.CleanCheckpointTime, time.Now())
	return d.checkpointLocked(false)
}

// headRoomLocked is the number of blocks left in the head segment.
// REQUIRES: mu held.
func (d *Device) headRoomLocked() int64 { return d.g.segEnd(d.head) - d.head }

// CleanAhead cleans while the caller has nothing else to write, so that
// later commits find free segments without cleaning first (cleaning in a
// commit is what makes some Syncs slow). When the free segments would not
// take a commit of MaxBatch bytes plus a few more without cleaning, it runs
// one cleaning round of a few segments, which ends with a checkpoint, and
// reports whether that gained space; otherwise it does nothing. It holds the device for that one round. Cleaning early
// moves data that later overwrites might have freed, so it costs some
// writes; it saves latency, not work.
func (d *Device) CleanAhead() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.writableLocked("clean", -1, 0); err != nil {
		return false, err
	}
	want := d.aheadTargetLocked()
	if d.spaceLocked() >= want {
		return false, nil
	}
	defer d.timeLocked(&d.stats.CleanTime, time.Now())
	before := d.availableLocked()
	emptied, err := d.cleanRoundLocked(min(want, d.spaceLocked()+4))
	if err != nil || emptied == 0 {
		return false, err
	}
	if err := d.cleanCheckpointLocked(); err != nil {
		return false, err
	}
	return d.availableLocked() > before, nil
}

// aheadTargetLocked is how many free segments CleanAhead aims for: what a
// MaxBatch commit needs without cleaning, plus cleanAheadExtra.
// REQUIRES: mu held.
func (d *Device) aheadTargetLocked() int64 {
	need := d.g.segmentsFor(d.g.maxBatch/d.g.bs, d.headRoomLocked()) + cleanerReserve
	return need + d.slack() + cleanAheadExtra
}

// cleanAheadExtra is how many segments beyond the commit path's own
// watermark CleanAhead keeps free.
const cleanAheadExtra = 1
