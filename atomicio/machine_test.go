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
	return makeMachine(p.size, p.journal, p.limits)
}

// makeMachine makes a data Mem of size bytes and, when journal > 0, a
// journal Mem of journal bytes.
func makeMachine(size, journal int64, l blockdev.Limits) (machine, error) {
	data, err := blockdev.NewMem(size, l)
	if err != nil || journal == 0 {
		return machine{data}, err
	}
	j, err := blockdev.NewMem(journal, l)
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

// open opens a File with opts over m (OpenDevice, or OpenDeviceWithJournal
// over two devices), every device behind a FaultDevice with inj.
func (m machine) open(opts Options, inj blockdev.Injector) (*File, []*blockdev.FaultDevice, error) {
	fds := make([]*blockdev.FaultDevice, len(m))
	for i, mem := range m {
		fds[i] = blockdev.WithFaults(mem, inj)
	}
	var f *File
	var err error
	if len(m) == 1 {
		f, err = OpenDevice(fds[0], opts)
	} else {
		f, err = OpenDeviceWithJournal(fds[0], fds[1], opts)
	}
	return f, fds, err
}
