package blockdev

import "sync/atomic"

// FaultDevice wraps a Device and asks an Injector before every ReadAt,
// WriteAt, Flush, Discard, Resize and Allocate. A failed operation does
// nothing on the inner device and returns an *OpError wrapping the injected
// error. It also numbers every operation, so a test can first count a
// workload's operations and then inject at each index in turn.
//
// Discard, Resize and Allocate are offered to the Injector as OpWrite (so
// OnlyKinds(inj, OpWrite) fails them too): Discard and Allocate with their
// range, Resize with Off the new size and Len 0 (it touches no bytes of the
// medium, so Overlapping never fails it). They pass through to the inner
// device when it is a Discarder or Resizer; otherwise they fail with
// ErrNotSupported at once, without being numbered or offered (a Mem made
// by NewMem counts as no Resizer).
type FaultDevice struct {
	inner Device
	inj   atomic.Pointer[Injector] // nil: inject nothing
	ops   atomic.Uint64            // operations offered so far
}

var (
	_ Device    = (*FaultDevice)(nil)
	_ Discarder = (*FaultDevice)(nil)
	_ Resizer   = (*FaultDevice)(nil)
)

// WithFaults wraps dev. inj may be nil (count only).
func WithFaults(dev Device, inj Injector) *FaultDevice {
	d := &FaultDevice{inner: dev}
	d.SetInjector(inj)
	return d
}

// SetInjector replaces the injector; nil injects nothing.
func (d *FaultDevice) SetInjector(inj Injector) {
	if inj == nil {
		d.inj.Store(nil)
		return
	}
	d.inj.Store(&inj)
}

// Ops returns how many operations were offered so far; the next one gets
// this number as its Op.Index.
func (d *FaultDevice) Ops() uint64 { return d.ops.Load() }

// Inner returns the wrapped device.
func (d *FaultDevice) Inner() Device { return d.inner }

func (d *FaultDevice) inject(kind OpKind, off int64, n int, flags Flags) error {
	return d.injectAs(kind.String(), kind, off, n, flags)
}

// injectAs numbers an operation, offers it to the injector and names a
// failure name in its *OpError.
func (d *FaultDevice) injectAs(name string, kind OpKind, off int64, n int, flags Flags) error {
	op := Op{Index: d.ops.Add(1) - 1, Kind: kind, Off: off, Len: n, Flags: flags}
	p := d.inj.Load()
	if p == nil {
		return nil
	}
	if err := (*p).MaybeError(op); err != nil {
		if kind == OpFlush {
			off = -1
		}
		return &OpError{Op: name, Off: off, Len: n, Err: err}
	}
	return nil
}

// ReadAt injects, then reads from the inner device.
func (d *FaultDevice) ReadAt(p []byte, off int64) (int, error) {
	if err := d.inject(OpRead, off, len(p), 0); err != nil {
		return 0, err
	}
	return d.inner.ReadAt(p, off)
}

// WriteAt injects, then writes to the inner device.
func (d *FaultDevice) WriteAt(p []byte, off int64, flags Flags) (int, error) {
	kind := OpWrite
	if flags&Atomic != 0 {
		kind = OpAtomicWrite
	}
	if err := d.inject(kind, off, len(p), flags); err != nil {
		return 0, err
	}
	return d.inner.WriteAt(p, off, flags)
}

// Flush injects, then flushes the inner device.
func (d *FaultDevice) Flush() error {
	if err := d.inject(OpFlush, -1, 0, 0); err != nil {
		return err
	}
	return d.inner.Flush()
}

// Size returns the inner device's size.
func (d *FaultDevice) Size() int64 { return d.inner.Size() }

// Limits returns the inner device's limits.
func (d *FaultDevice) Limits() Limits { return d.inner.Limits() }

// Close closes the inner device; it is never injected.
func (d *FaultDevice) Close() error { return d.inner.Close() }

// Discard injects, then discards on the inner device (see FaultDevice).
func (d *FaultDevice) Discard(off, n int64) error {
	inner, ok := d.inner.(Discarder)
	if !ok {
		return notSupported("discard", off, n)
	}
	if err := d.injectAs("discard", OpWrite, off, int(n), 0); err != nil {
		return err
	}
	return inner.Discard(off, n)
}

// resizer returns the inner device as a Resizer; a Mem of fixed size
// (NewMem) counts as none.
func (d *FaultDevice) resizer() (Resizer, bool) {
	if m, ok := d.inner.(*Mem); ok && !m.file {
		return nil, false
	}
	r, ok := d.inner.(Resizer)
	return r, ok
}

// Resize injects, then resizes the inner device (see FaultDevice).
func (d *FaultDevice) Resize(size int64) error {
	inner, ok := d.resizer()
	if !ok {
		return notSupported("resize", size, 0)
	}
	if err := d.injectAs("resize", OpWrite, size, 0, 0); err != nil {
		return err
	}
	return inner.Resize(size)
}

// Allocate injects, then allocates on the inner device (see FaultDevice).
func (d *FaultDevice) Allocate(off, n int64) error {
	inner, ok := d.resizer()
	if !ok {
		return notSupported("allocate", off, n)
	}
	if err := d.injectAs("allocate", OpWrite, off, int(n), 0); err != nil {
		return err
	}
	return inner.Allocate(off, n)
}

func notSupported(op string, off, n int64) error {
	return &OpError{Op: op, Off: off, Len: int(n), Err: ErrNotSupported}
}
