package torture

import (
	"slices"

	"github.com/untorn/untorn/blockdev"
)

// cut is a crash image together with the promises in force when the power
// failed.
type cut struct {
	img  machine
	snap Snapshot
	at   uint64 // the device write or flush it preceded, counted from the workload's start (over all the machine's devices)
}

// modelFor returns the model a run starts from, for a File of size bytes.
type modelFor func(size int64) *Model

// startMachine returns the machine a run starts from: a copy of img (an
// image without volatile writes), or a new machine when img is nil.
func (c *caseRun) startMachine(img machine) (machine, error) {
	if img == nil {
		return c.Profile.newMachine()
	}
	return img.copy(), nil
}

// countOps runs steps (and a Close) on a File over a copy of from (a new
// machine when from is nil), and returns how many device writes and
// flushes, of all the machine's devices, the workload issued after the
// open.
func (c *caseRun) countOps(from machine, model modelFor, steps []step) (uint64, error) {
	mach, err := c.startMachine(from)
	if err != nil {
		return 0, err
	}
	cnt := &opCounter{}
	f, err := c.Profile.open(mach, cnt)
	if err != nil {
		return 0, annotate(err, "open the device")
	}
	x := &executor{f: f, m: model(f.Size()), p: c.Profile, ops: cnt.load}
	if err := x.run(steps); err != nil {
		_ = f.Abandon()
		return 0, err
	}
	if err := x.close(); err != nil {
		return 0, err
	}
	return cnt.load() - x.base, nil
}

// cutRun runs steps (and a Close) on a File over a copy of from (a new
// machine when from is nil) and cuts the power of the whole machine, with
// perCut crash configurations each, just before up to points of its device
// writes and flushes after the open (of any of its devices), chosen at
// random. It returns the images and the model of what the workload wrote.
func (c *caseRun) cutRun(from machine, model modelFor, steps []step, points, perCut int) ([]cut, *Model, error) {
	total, err := c.countOps(from, model, steps)
	if err != nil {
		return nil, nil, err
	}
	at := c.pickIndexes(total, points)
	mach, err := c.startMachine(from)
	if err != nil {
		return nil, nil, err
	}
	cnt := &opCounter{}
	cps := make([]*blockdev.CrashPoint, 0, len(at)*perCut)
	injs := []blockdev.Injector{cnt}
	for range len(at) * perCut {
		cp := mach.crashPoint()
		cps, injs = append(cps, cp), append(injs, cp)
	}
	f, err := c.Profile.open(mach, blockdev.Any(injs...))
	if err != nil {
		return nil, nil, annotate(err, "open the device")
	}
	for i, cp := range cps {
		cp.Arm(int(at[i/perCut]), c.crashConfig())
	}
	m := model(f.Size())
	x := &executor{f: f, m: m, p: c.Profile, ops: cnt.load}
	err = x.run(steps)
	if err == nil {
		err = x.close()
	} else {
		_ = f.Abandon()
	}
	var cuts []cut
	for i, cp := range cps {
		img, ok := takeCut(cp)
		if !ok {
			continue // the run issued fewer operations than the count (it should not)
		}
		k := at[i/perCut]
		snap, _ := x.snapshotAt(k) // none: before the first step, nothing was promised
		cuts = append(cuts, cut{img: img, snap: snap, at: k})
	}
	return cuts, m, err
}

// pickIndexes returns up to n distinct indexes below total, ascending:
// all of them when there are no more than n.
func (c *caseRun) pickIndexes(total uint64, n int) []uint64 {
	if total <= uint64(n) {
		out := make([]uint64, total)
		for i := range out {
			out[i] = uint64(i)
		}
		return out
	}
	seen := make(map[uint64]bool, n)
	out := make([]uint64, 0, n)
	for len(out) < n {
		k := c.rng.Uint64N(total)
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
