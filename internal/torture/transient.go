package torture

import (
	"errors"
	"syscall"

	"github.com/untorn/untorn/blockdev"
)

// The transient campaign: a random workload on a new File whose device
// fails exactly one operation (EIO or ENOSPC; a read, write, untorn write
// or flush, whichever comes at a random index after OpenDevice) and works
// again afterwards. The workload treats errors wrapping the injected one as
// allowed (a failed write wrote nothing, a failed Sync made nothing
// durable). Then, the device working, Sync must succeed within
// transientTries tries (else the case is Stuck), the running File must
// read back every write, and a crash image taken right after the
// successful Sync must hold every write issued before it began, whole.

const (
	transientFaults = 3 // fault runs per case, each at its own index
	transientTries  = 5
)

func runTransient(c *Case) error {
	steps, err := c.workload()
	if err != nil {
		return err
	}
	total, err := c.countAllOps(steps)
	if err != nil {
		return err
	}
	for range transientFaults {
		if total == 0 {
			break
		}
		fault := blockdev.ErrInjectedEIO
		if c.rng.IntN(2) == 0 {
			fault = blockdev.ErrInjectedENOSPC
		}
		i := c.rng.Uint64N(total)
		if err := c.transientRun(steps, i, fault); err != nil {
			c.fail(annotate(err, "fault %v at I/O %d", errnoName(fault), i))
		}
	}
	return nil
}

// transientRun runs steps on a new File whose device fails I/O number i
// (counted from the end of OpenDevice) with fault.
func (c *Case) transientRun(steps []step, i uint64, fault error) error {
	mem, err := c.Profile.newMem()
	if err != nil {
		return err
	}
	fd := blockdev.WithFaults(mem, nil)
	f, err := c.Profile.open(fd)
	if err != nil {
		return annotate(err, "open a new device")
	}
	at := fd.Ops() + i
	fd.SetInjector(blockdev.AtIndex(at, fault))
	m := NewModel(f.Size())
	x := &executor{f: f, m: m, p: c.Profile, tolerate: isInjected}
	if err := x.run(steps); err != nil {
		_ = f.Abandon()
		return err
	}
	if fd.Ops() > at {
		c.Stats.Faults++
	}
	synced := false
	for range transientTries {
		ok, err := x.sync()
		if err != nil {
			_ = f.Abandon()
			return err
		}
		if ok {
			synced = true
			break
		}
	}
	if !synced {
		_ = f.Abandon()
		return violation(Stuck, x.lastTolerated, "the device works again, but %d Syncs in a row failed", transientTries)
	}
	if err := x.verifyLive(); err != nil {
		_ = f.Abandon()
		return err
	}
	img := mem.CrashClone(c.crashConfig())
	c.Stats.Crashes++
	if err := c.checkImage(img, m, m.Snapshot()); err != nil {
		_ = f.Abandon()
		return annotate(err, "crash image after the successful Sync")
	}
	return x.close()
}

// countAllOps runs steps on a new File and returns how many device
// operations of every kind (reads too) the workload issued after
// OpenDevice, up to the end of its last step.
func (c *Case) countAllOps(steps []step) (uint64, error) {
	mem, err := c.Profile.newMem()
	if err != nil {
		return 0, err
	}
	fd := blockdev.WithFaults(mem, nil)
	f, err := c.Profile.open(fd)
	if err != nil {
		return 0, annotate(err, "open a new device")
	}
	base := fd.Ops()
	x := &executor{f: f, m: NewModel(f.Size()), p: c.Profile}
	err = x.run(steps)
	n := fd.Ops() - base
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
