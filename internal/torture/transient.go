package torture

import (
	"errors"
	"syscall"

	"github.com/untorn/untorn/blockdev"
)

// The transient campaign: a random workload on a new File whose machine
// fails exactly one operation (EIO or ENOSPC; a read, write, untorn write
// or flush of any of its devices, the data device or the journal,
// whichever comes at a random index after the open, the devices'
// operations numbered together) and works again afterwards. The workload
// treats errors wrapping the injected one as allowed (a failed write wrote
// nothing, a failed Sync made nothing durable). Then, the machine working,
// Sync must succeed within transientTries tries (else the case is Stuck),
// the running File must read back every write, and a crash image taken
// right after the successful Sync must hold every write issued before it
// began, whole.

const (
	transientFaults = 3 // fault runs per case, each at another index
	transientTries  = 5
)

func runTransient(c *caseRun) error {
	steps, err := c.workload()
	if err != nil {
		return err
	}
	total, err := c.countAllOps(steps)
	if err != nil {
		return err
	}
	for _, i := range c.pickIndexes(total, transientFaults) {
		fault := blockdev.ErrInjectedEIO
		if c.rng.IntN(2) == 0 {
			fault = blockdev.ErrInjectedENOSPC
		}
		kind, err := c.transientRun(steps, i, fault)
		if err != nil {
			c.fail(annotate(err, "%v on %s (I/O %d after open)", errnoName(fault), kind, i))
		}
	}
	return nil
}

// transientRun runs steps on a new File whose machine fails I/O number i
// (counted from the end of the open, over all its devices) with fault,
// and returns the kind of operation that failed ("no operation" if the
// workload issued fewer).
func (c *caseRun) transientRun(steps []step, i uint64, fault error) (string, error) {
	kind := "no operation"
	mach, err := c.Profile.newMachine()
	if err != nil {
		return kind, err
	}
	seq := &opSeq{fault: fault}
	f, err := c.Profile.open(mach, seq)
	if err != nil {
		return kind, annotate(err, "open a new device")
	}
	seq.failAt(seq.ops() + i)
	m := NewModel(f.Size())
	x := &executor{f: f, m: m, p: c.Profile, tolerate: isInjected}
	err = x.run(steps)
	if k, dev, ok := seq.hit(); ok {
		kind = "a " + k.String()
		if len(mach) > 1 {
			kind += " of the " + [...]string{"data", "journal"}[dev] + " device"
		}
		c.Stats.Faults++
	}
	if err != nil {
		_ = f.Abandon()
		return kind, err
	}
	return kind, c.afterFault(x, mach)
}

// afterFault checks what follows a transient fault on a device that works
// again: Sync succeeds within transientTries tries, the running File reads
// back every write, a crash image right after the Sync holds everything
// it made durable, and Close succeeds. The File is gone afterwards.
func (c *caseRun) afterFault(x *executor, mach machine) error {
	synced := false
	for range transientTries {
		ok, err := x.sync()
		if err != nil {
			_ = x.f.Abandon()
			return err
		}
		if ok {
			synced = true
			break
		}
	}
	if !synced {
		_ = x.f.Abandon()
		return violation(Stuck, x.lastTolerated, "the device works again, but %d Syncs in a row failed", transientTries)
	}
	if err := x.verifyLive(); err != nil {
		_ = x.f.Abandon()
		return err
	}
	img := mach.cut(c.crashConfig())
	c.Stats.Crashes++
	if err := c.checkImage(img, x.m, x.m.Snapshot()); err != nil {
		_ = x.f.Abandon()
		return annotate(err, "crash image after the successful Sync")
	}
	return x.close()
}

// countAllOps runs steps on a new File and returns how many device
// operations of every kind (reads too), of all the machine's devices, the
// workload issued after the open, up to the end of its last step.
func (c *caseRun) countAllOps(steps []step) (uint64, error) {
	mach, err := c.Profile.newMachine()
	if err != nil {
		return 0, err
	}
	seq := &opSeq{}
	f, err := c.Profile.open(mach, seq)
	if err != nil {
		return 0, annotate(err, "open a new device")
	}
	base := seq.ops()
	x := &executor{f: f, m: NewModel(f.Size()), p: c.Profile}
	err = x.run(steps)
	n := seq.ops() - base
	if err != nil {
		_ = f.Abandon()
		return 0, err
	}
	return n, x.close()
}

// isInjected reports whether err comes from the fault injector.
func isInjected(err error) bool { return errors.Is(err, blockdev.ErrInjected) }

// errnoName names an injected fault.
func errnoName(err error) string {
	if errors.Is(err, syscall.ENOSPC) {
		return "ENOSPC"
	}
	return "EIO"
}
