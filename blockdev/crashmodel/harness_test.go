package crashmodel_test

import (
	"bytes"
	"fmt"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
)

// crashable is a device that can be cloned as after a power cut.
type crashable interface {
	blockdev.Device
	CrashClone(blockdev.CrashConfig) *blockdev.Mem
}

// harness drives a device and the model side by side. Both the rapid
// state machine and the negative controls use it, so the controls exercise
// exactly the checker the property test relies on.
type harness struct {
	dev    crashable
	model  *crashmodel.Model
	lim    blockdev.Limits
	nextID uint64
	checks int // crash images verified
}

func newHarness(dev crashable) (*harness, error) {
	m, err := crashmodel.New(dev.Size(), dev.Limits().BlockSize)
	if err != nil {
		return nil, err
	}
	return &harness{dev: dev, model: m, lim: dev.Limits(), nextID: 1}, nil
}

// write sends a write of n bytes at off with flags, filled with data unique
// to this write, and records it in the model.
func (h *harness) write(off int64, n int, flags blockdev.Flags) error {
	buf := blockdev.AlignedBuffer(n, h.lim.MemAlign)
	crashmodel.Fill(buf, h.nextID, off)
	h.nextID++
	if _, err := h.dev.WriteAt(buf, off, flags); err != nil {
		return err
	}
	return h.model.Write(buf, off, flags)
}

func (h *harness) flush() error {
	if err := h.dev.Flush(); err != nil {
		return err
	}
	h.model.Flush()
	return nil
}

// read checks read-your-writes over [off, off+n).
func (h *harness) read(off int64, n int) error {
	buf := blockdev.AlignedBuffer(n, h.lim.MemAlign)
	if _, err := h.dev.ReadAt(buf, off); err != nil {
		return err
	}
	if !bytes.Equal(buf, h.model.Current()[off:off+int64(n)]) {
		return fmt.Errorf("read [%d, +%d) differs from the last writes", off, n)
	}
	return nil
}

// crash clones the device as after a power cut and checks the clone.
func (h *harness) crash(cfg blockdev.CrashConfig) error {
	clone := h.dev.CrashClone(cfg)
	h.checks++
	if err := h.model.CheckDevice(clone); err != nil {
		return fmt.Errorf("crash seed %d survive %.2f: %w", cfg.Seed, cfg.Survive, err)
	}
	if clone.Volatile() != 0 {
		return fmt.Errorf("clone has %d volatile writes, want 0", clone.Volatile())
	}
	return nil
}

// tearingDevice is deliberately broken: it sends Atomic writes as plain
// writes, so a crash can tear them.
type tearingDevice struct{ *blockdev.Mem }

func (d tearingDevice) WriteAt(p []byte, off int64, flags blockdev.Flags) (int, error) {
	if err := blockdev.CheckIO(d.Limits(), d.Size(), p, off, flags); err != nil {
		return 0, err
	}
	return d.Mem.WriteAt(p, off, flags&^blockdev.Atomic)
}

// forgetfulDevice is deliberately broken: it drops FUA.
type forgetfulDevice struct{ *blockdev.Mem }

func (d forgetfulDevice) WriteAt(p []byte, off int64, flags blockdev.Flags) (int, error) {
	return d.Mem.WriteAt(p, off, flags&^blockdev.FUA)
}
