package atomicio

import (
	"github.com/untorn/untorn/blockdev"
)

// machine is the simulated devices one File runs on: a data Mem and, in
// journal mode, a journal Mem. A power cut takes all of them at one
// instant (blockdev.CrashCloneAll).
type machine []*blockdev.Mem

// newMachine makes the devices of profile p: a Mem of p.size, and one of
// p.journal for the journal when p has one.
func newMachine(p profile) (machine, error) {
	data, err := blockdev.NewMem(p.size, p.limits)
	if err != nil || p.journal == 0 {
		return machine{data}, err
	}
	j, err := blockdev.NewMem(p.journal, p.limits)
	return machine{data, j}, err
}

// cut returns the devices as a power cut now would leave them; the
// machine runs on.
func (m machine) cut(cfg blockdev.CrashConfig) machine {
	return blockdev.CrashCloneAll(cfg, m...)
}

// crashPoint returns a CrashPoint that cuts the power of all the devices.
func (m machine) crashPoint() *blockdev.CrashPoint {
	return blockdev.NewCrashPoint(m[0], m[1:]...)
}

// open opens a File of profile p over m, every device behind a
// FaultDevice with inj.
func (m machine) open(p profile, inj blockdev.Injector) (*File, []*blockdev.FaultDevice, error) {
	fds := make([]*blockdev.FaultDevice, len(m))
	for i, mem := range m {
		fds[i] = blockdev.WithFaults(mem, inj)
	}
	var f *File
	var err error
	if len(m) == 1 {
		f, err = OpenDevice(fds[0], p.opts)
	} else {
		f, err = OpenDeviceWithJournal(fds[0], fds[1], p.opts)
	}
	return f, fds, err
}
