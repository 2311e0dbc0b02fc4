package cow

import "github.com/untorn/untorn/blockdev/internal/logrec"

// Read-triggered defragmentation (like btrfs autodefrag): random overwrites
// scatter logically sequential data over the log, and a later sequential
// read of it then costs one inner read per fragment. When a read of at
// least defragMinBlocks finds its data in fragments averaging fewer than
// defragRunBlocks, the data it has just read is written back to the log
// head as one relocation transaction (no extra read, no flush: the logical
// content does not change), so the next read of that range is sequential.
const (
	defragMinBlocks = 16
	defragRunBlocks = 16
)

// defragHook, when set (by tests only), runs in defragRead between the
// read's unlock and the defragmentation's lock.
var defragHook func()

// fragmented reports whether a read of n blocks that took nruns inner
// reads should be defragmented.
func fragmented(n int64, nruns int) bool {
	return n >= defragMinBlocks && int64(nruns)*defragRunBlocks > n
}

// defragRead rewrites the blocks of a read contiguously. p holds the data read
// for logical blocks [first, first+n) from runs, while Device.takes was
// takes; if any of their mappings changed since (a write raced the read),
// or a segment they lie in was reused since (freed by a checkpoint, taken
// again by the log, so the same place may hold other data now), or the
// device cannot write, it does nothing. It cleans for space like a write.
// A failed write is reported by the next write or flush (ErrFailed).
func (d *Device) defragRead(p []byte, first, n int64, runs []physRun, takes uint64) {
	if defragHook != nil {
		defragHook()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.failed != nil || d.broken != nil {
		return
	}
	g := d.g
	bs := g.bs
	unchanged := func() bool {
		for _, r := range runs {
			for s := g.segOf(r.phys); s <= g.segOf(r.phys+r.j-r.i-1); s++ {
				if s >= int64(len(d.segs)) || d.segs[s].taken > takes {
					return false
				}
			}
			for i := r.i; i < r.j; i++ {
				if int64(d.mapAt(first+i)) != r.phys+i-r.i {
					return false
				}
			}
		}
		return true
	}
	var mapped int64
	for _, r := range runs {
		mapped += r.j - r.i
	}
	// Cleaning for space may move the blocks too: check after it.
	if !unchanged() || d.ensureSpaceLocked(mapped) != nil || !unchanged() {
		return
	}
	// Runs of consecutive logical blocks, whatever their old places.
	var out []run
	for _, r := range runs {
		if k := len(out) - 1; k >= 0 && out[k].lblock+int64(len(out[k].data))/bs == first+r.i {
			out[k].data = p[(out[k].lblock-first)*bs : r.j*bs]
			continue
		}
		out = append(out, run{lblock: first + r.i, data: p[r.i*bs : r.j*bs]})
	}
	if err := d.writeTxnLocked(out, logrec.FlagClean, d.size, d.size, false); err != nil {
		return
	}
	d.stats.DefragBlocks += mapped
	_ = d.maybeCheckpointLocked()
}
