package main

import (
	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// rig is a File over a Mem whose every device operation passes a
// blockdev.CrashPoint, so the power can be cut just before a chosen write
// or flush of a Sync, while the Sync is under way.
type rig struct {
	mem   *blockdev.Mem
	f     *atomicio.File
	crash *blockdev.CrashPoint
}

func newRig(mem *blockdev.Mem, opts atomicio.Options) (*rig, error) {
	r := &rig{mem: mem, crash: blockdev.NewCrashPoint(mem)}
	f, err := atomicio.OpenDevice(blockdev.WithFaults(mem, r.crash), opts)
	if err != nil {
		return nil, err
	}
	r.f = f
	return r, nil
}

// arm makes the power fail just before the k-th write or flush from now.
func (r *rig) arm(k int, cfg blockdev.CrashConfig) { r.crash.Arm(k, cfg) }

// take disarms and returns the clone the hook made, nil if the k-th
// operation never came.
func (r *rig) take() *blockdev.Mem {
	clone, _ := r.crash.Take()
	return clone
}
