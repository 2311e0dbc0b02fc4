package cow

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
)

// checkOnCleanup checks d's invariants when the test ends.
func checkOnCleanup(t testing.TB, d *Device) {
	t.Cleanup(func() {
		if err := d.checkInvariants(); err != nil {
			t.Error(err)
		}
	})
}

// checkInvariants verifies the in-memory state: map and reverse map agree,
// live counts match, free segments hold nothing, exactly one head segment
// and no live data after the head in it.
func (d *Device) checkInvariants() error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	g := d.g
	ds := g.dataStart()
	live := make([]int32, g.nSegs)
	for l, p := range d.m {
		if p == 0 {
			continue
		}
		if !g.isData(int64(p)) || d.rev[int64(p)-ds] != uint32(l+1) {
			return fmt.Errorf("logical %d -> %d, reverse says %d", l, p, d.rev[int64(p)-ds])
		}
		live[g.segOf(int64(p))]++
	}
	mapped := 0
	for _, r := range d.rev {
		if r != 0 {
			mapped++
		}
	}
	heads, free := 0, 0
	for s, sg := range d.segs {
		if sg.live != live[s] {
			return fmt.Errorf("segment %d live %d, map says %d", s, sg.live, live[s])
		}
		switch sg.state {
		case segHead:
			heads++
		case segFree:
			free++
			if sg.live != 0 {
				return fmt.Errorf("free segment %d has %d live blocks", s, sg.live)
			}
		}
	}
	total := 0
	for _, n := range live {
		total += int(n)
	}
	switch {
	case int64(total) != d.liveBlocks:
		return fmt.Errorf("live blocks counted %d, segments hold %d", d.liveBlocks, total)
	case mapped != total:
		return fmt.Errorf("reverse map has %d entries, map %d", mapped, total)
	case heads != 1 || d.segs[g.segOf(d.head)].state != segHead:
		return fmt.Errorf("%d head segments, head %d in segment %d", heads, d.head, g.segOf(d.head))
	case free != len(d.free):
		return fmt.Errorf("%d free segments, free list has %d", free, len(d.free))
	case !slices.IsSortedFunc(d.free, func(a, b int64) int { return cmp.Compare(b, a) }):
		return fmt.Errorf("free list %v not in descending order", d.free)
	case int64(len(d.m)) != ceilDiv(d.size, g.bs) || len(d.sums) != len(d.m):
		return fmt.Errorf("file size %d, map of %d entries", d.size, len(d.m))
	case int64(len(d.rev)) != int64(len(d.segs))*g.segBlocks || int64(len(d.segs)) > g.nSegs:
		return fmt.Errorf("%d segments in use, reverse map of %d blocks", len(d.segs), len(d.rev))
	case g.segEnd(d.head)-d.head < 2:
		return fmt.Errorf("head %d too close to its segment end", d.head)
	}
	for p := d.head; p < g.segEnd(d.head); p++ {
		if d.rev[p-ds] != 0 {
			return fmt.Errorf("live data at %d after the head %d", p, d.head)
		}
	}
	return d.checkFileLocked()
}

// checkFileLocked: over a file that grows with the container, every
// segment that is not free lies within the file, but the head segment
// when the log has written nothing into it yet.
// REQUIRES: mu held (shared is enough).
func (d *Device) checkFileLocked() error {
	if !d.grows {
		return nil
	}
	g := d.g
	size := d.inner.Size()
	for s, sg := range d.segs {
		empty := g.segOf(d.head) == int64(s) && d.head == g.segStart(int64(s))
		if sg.state != segFree && !empty && g.segStart(int64(s)+1)*g.bs > size {
			return fmt.Errorf("segment %d (state %d) reaches past the end of the inner file (%d bytes)", s, sg.state, size)
		}
	}
	return nil
}
