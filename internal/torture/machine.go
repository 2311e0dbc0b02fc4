package torture

import (
	"fmt"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// machine is the set of simulated devices one File runs on, the image a
// campaign cuts, copies, damages and reopens: one Mem for a native file or
// a COW container; for a journal profile the data Mem and then the journal
// Mem. A power cut takes all of them at one instant (CrashCloneAll: no
// write or flush of one device falls between the clones), and an injector
// given to open sees the operations of all of them, so a CrashPoint or an
// operation counter counts them together, in the order they reach the
// devices (one at a time: the profiles keep one I/O in flight).
//
// With one Mem every operation is exactly what the campaigns did before
// machines existed (the same clones, seeds and numbering), so the seeds
// of the native and COW profiles replay the same histories.
type machine []*blockdev.Mem

// newMachine returns the zeroed devices of the profile.
func (p Profile) newMachine() (machine, error) {
	data, err := blockdev.NewMem(p.MemSize, p.Limits)
	if err != nil {
		return nil, fmt.Errorf("torture: profile %s: data device: %w", p.Name, err)
	}
	if p.JournalMemSize == 0 {
		return machine{data}, nil
	}
	j, err := blockdev.NewMem(p.JournalMemSize, p.Limits)
	if err != nil {
		return nil, fmt.Errorf("torture: profile %s: journal device: %w", p.Name, err)
	}
	return machine{data, j}, nil
}

// cut returns the devices as a power cut now leaves them, cfg choosing
// which volatile writes survive (device i with seed cfg.Seed+i); m runs on
// unchanged.
func (m machine) cut(cfg blockdev.CrashConfig) machine {
	if len(m) == 1 {
		return machine{m[0].CrashClone(cfg)} // what CrashCloneAll does for one, without its global lock
	}
	return blockdev.CrashCloneAll(cfg, m...)
}

// copy returns an exact, independent copy of an image that has no volatile
// writes (a crash image, or a copy of one).
func (m machine) copy() machine { return m.cut(blockdev.CrashConfig{}) }

// crashPoint returns a disarmed CrashPoint that cuts the power of every
// device of m at once; give it to open as (part of) the injector, so that
// it counts the writes and flushes of all of them.
func (m machine) crashPoint() *blockdev.CrashPoint {
	return blockdev.NewCrashPoint(m[0], m[1:]...)
}

// takeCut returns the image cp took, or false if its write or flush never
// came.
func takeCut(cp *blockdev.CrashPoint) (machine, bool) {
	mems, ok := cp.TakeAll()
	return machine(mems), ok
}

// data returns the data device: the file (native, journal) or the
// container (COW).
func (m machine) data() *blockdev.Mem { return m[0] }

// journal returns the journal device, or nil when m has none.
func (m machine) journal() *blockdev.Mem {
	if len(m) < 2 {
		return nil
	}
	return m[1]
}

// open opens a File over m with the profile's options and checks that it
// runs in the profile's mode. With an injector, every device is behind a
// blockdev.FaultDevice that offers it each operation (the same injector
// for all, so it sees them all in one sequence); with nil the File runs on
// the Mems themselves. An injector that is a deviceInjector gets device
// i's operations through forDevice(i). The File owns the devices: Close or
// Abandon it.
func (p Profile) open(m machine, inj blockdev.Injector) (*atomicio.File, error) {
	devs := make([]blockdev.Device, len(m))
	for i, mem := range m {
		devs[i] = mem
		switch di, ok := inj.(deviceInjector); {
		case ok:
			devs[i] = blockdev.WithFaults(mem, di.forDevice(i))
		case inj != nil:
			devs[i] = blockdev.WithFaults(mem, inj)
		}
	}
	var f *atomicio.File
	var err error
	switch len(devs) {
	case 1:
		f, err = atomicio.OpenDevice(devs[0], p.Options)
	case 2:
		f, err = atomicio.OpenDeviceWithJournal(devs[0], devs[1], p.Options)
	default:
		return nil, violation(Unexpected, nil, "a machine of %d devices", len(devs))
	}
	if err != nil {
		return nil, err
	}
	if f.Mode() != p.Mode {
		_ = f.Abandon()
		return nil, violation(Unexpected, nil, "the File runs in mode %v, the profile wants %v", f.Mode(), p.Mode)
	}
	return f, nil
}
