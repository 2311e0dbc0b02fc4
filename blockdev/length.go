package blockdev

import (
	"fmt"
)

// Lengther is a Device that keeps a byte-exact length besides its
// capacity: a regular file, whose st_size may end inside a block. Size is
// the capacity in whole blocks that I/O uses; the length is what other
// programs see (ls -l, read(2)). A side journal (blockdev/journal) sets the
// length of a data file it has brought up to date, so that the file is an
// ordinary file of exactly the caller's size. File and FaultDevice
// implement it (a FaultDevice only as far as the device it wraps does).
type Lengther interface {
	Device
	// Length returns the exact length in bytes.
	Length() (int64, error)
	// SetLength sets the exact length (ftruncate): bytes past it are
	// gone, a grown file reads as zeros up to it. Size becomes the length
	// rounded down to a block. Durable with the next Flush, like Resize.
	SetLength(n int64) error
}

var (
	_ Lengther = (*File)(nil)
	_ Lengther = (*FaultDevice)(nil)
)

// LengthOf returns the exact length of d and true when d keeps one (a
// regular File, or a FaultDevice over one); 0 and false otherwise.
func LengthOf(d Device) (int64, bool) {
	switch d := d.(type) {
	case *File:
		n, err := d.Length()
		return n, err == nil
	case *FaultDevice:
		return LengthOf(d.Inner())
	}
	return 0, false
}

// Resizable reports whether Resize works on d: a regular File, a Mem made
// by NewMemFile, or a FaultDevice over one. (A FaultDevice is a Resizer by
// type whatever it wraps, a File may be a block device, and a Mem made by
// NewMem has a fixed size.)
func Resizable(d Device) bool {
	switch d := d.(type) {
	case *File:
		return !d.blockDev
	case *Mem:
		return d.file
	case *FaultDevice:
		return Resizable(d.Inner())
	}
	return false
}

// Length returns the file's st_size; a block device's capacity.
func (f *File) Length() (int64, error) {
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if f.closed {
		return 0, &OpError{Op: "length", Path: f.path, Off: -1, Err: ErrClosed}
	}
	if f.blockDev {
		return f.size.Load(), nil
	}
	st, err := f.osf.Stat()
	if err != nil {
		return 0, &OpError{Op: "length", Path: f.path, Off: -1, Err: osErr(err)}
	}
	return st.Size(), nil
}

// SetLength truncates or extends a regular file to exactly n bytes
// (ftruncate). Like Resize it waits for the I/O in flight; Size becomes n
// rounded down to a block. A block device fails with ErrNotSupported.
func (f *File) SetLength(n int64) error {
	if n < 0 {
		return &OpError{Op: "set length", Path: f.path, Off: n, Err: fmt.Errorf("%w: negative length %d", ErrOutOfRange, n)}
	}
	f.closeMu.Lock()
	defer f.closeMu.Unlock()
	if f.closed {
		return &OpError{Op: "set length", Path: f.path, Off: n, Err: ErrClosed}
	}
	if f.blockDev {
		return &OpError{Op: "set length", Path: f.path, Off: n, Err: fmt.Errorf("%w: a block device has a fixed size", ErrNotSupported)}
	}
	bs := int64(f.limits.BlockSize)
	if err := f.osf.Truncate(n); err != nil {
		if st, serr := f.osf.Stat(); serr == nil {
			f.size.Store(st.Size() - st.Size()%bs)
		}
		return &OpError{Op: "set length", Path: f.path, Off: n, Err: osErr(err)}
	}
	f.size.Store(n - n%bs)
	return nil
}

// Length returns the inner device's length (see Lengther); it is never
// injected.
func (d *FaultDevice) Length() (int64, error) {
	inner, ok := d.inner.(Lengther)
	if !ok {
		return 0, notSupported("length", -1, 0)
	}
	return inner.Length()
}

// SetLength injects (as OpWrite), then sets the inner device's length.
func (d *FaultDevice) SetLength(n int64) error {
	inner, ok := d.inner.(Lengther)
	if !ok {
		return notSupported("set length", n, 0)
	}
	if err := d.injectAs("set length", OpWrite, n, 0, 0); err != nil {
		return err
	}
	return inner.SetLength(n)
}
