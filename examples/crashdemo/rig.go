package main

import (
	"sync"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// rig is a File over a Mem whose every device operation passes a
// FaultDevice hook, so the power can be cut just before a chosen write or
// flush of a Sync, while the Sync is under way.
type rig struct {
	mem *blockdev.Mem
	f   *atomicio.File

	mu        sync.Mutex // guards the fields below
	armed     bool
	countdown int // cut before this many more writes and flushes
	cfg       blockdev.CrashConfig
	clone     *blockdev.Mem // the device as found after the cut
}

func newRig(mem *blockdev.Mem, opts atomicio.Options) (*rig, error) {
	r := &rig{mem: mem}
	dev := blockdev.WithFaults(mem, blockdev.InjectorFunc(r.hook))
	f, err := atomicio.OpenDevice(dev, opts)
	if err != nil {
		return nil, err
	}
	r.f = f
	return r, nil
}

// hook runs before each device operation reaches the Mem, outside its
// lock, so it may clone the Mem.
func (r *rig) hook(op blockdev.Op) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.armed || op.Kind == blockdev.OpRead {
		return nil
	}
	if r.countdown == 0 {
		r.clone, r.armed = r.mem.CrashClone(r.cfg), false
	}
	r.countdown--
	return nil
}

// arm makes the power fail just before the k-th write or flush from now.
func (r *rig) arm(k int, cfg blockdev.CrashConfig) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed, r.countdown, r.cfg, r.clone = true, k, cfg, nil
}

// take disarms and returns the clone the hook made, nil if the k-th
// operation never came.
func (r *rig) take() *blockdev.Mem {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.clone
	r.armed, r.clone = false, nil
	return c
}
