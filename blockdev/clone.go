package blockdev

import "fmt"

// Cloner is a Device that can share another device's blocks instead of
// copying them (reflink: FICLONERANGE on XFS with reflink, btrfs). A side
// journal uses it to write a page home without reading it back: the data
// file takes the journal's blocks, and the journal's next write to them
// gets new ones (the file system copies on write).
type Cloner interface {
	Device
	// CloneFrom makes [dstOff, dstOff+n) of this device hold what
	// [srcOff, srcOff+n) of src holds, sharing the blocks. Offsets and n
	// are multiples of BlockSize and lie within both devices (ErrMisaligned,
	// ErrOutOfRange otherwise; nothing is done). Crash model: like a plain
	// write of that data, volatile until the next Flush. It fails with an
	// error wrapping ErrNotSupported when the two cannot share blocks (not
	// both files on one file system with reflink: EOPNOTSUPP, EXDEV,
	// EINVAL), and the caller copies instead.
	CloneFrom(src Device, srcOff, dstOff, n int64) error
}

var (
	_ Cloner = (*File)(nil)
	_ Cloner = (*FaultDevice)(nil)
)

// CloneFrom clones with FICLONERANGE (Linux, native Files only; see
// cloneNative) from src, which must be a File (or a FaultDevice over one).
// The portable File fails with ErrNotSupported: macOS and Windows have no
// range clone here.
func (f *File) CloneFrom(src Device, srcOff, dstOff, n int64) error {
	for {
		fd, ok := src.(*FaultDevice)
		if !ok {
			break
		}
		src = fd.Inner()
	}
	sf, ok := src.(*File)
	if !ok {
		return f.spaceErr("clone", dstOff, n, fmt.Errorf("%w: the source is not a file", ErrNotSupported))
	}
	if err := checkRange(sf.limits, sf.size.Load(), srcOff, n); err != nil {
		return f.spaceErr("clone", srcOff, n, fmt.Errorf("source: %w", err))
	}
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if err := checkRange(f.limits, f.size.Load(), dstOff, n); err != nil {
		return f.spaceErr("clone", dstOff, n, err)
	}
	if f.closed {
		return f.spaceErr("clone", dstOff, n, ErrClosed)
	}
	sf.closeMu.RLock()
	defer sf.closeMu.RUnlock()
	if sf.closed {
		return f.spaceErr("clone", srcOff, n, fmt.Errorf("source: %w", ErrClosed))
	}
	if n == 0 {
		return nil
	}
	if !f.native || !sf.native {
		return f.spaceErr("clone", dstOff, n, fmt.Errorf("%w: the portable file does not clone", ErrNotSupported))
	}
	return f.cloneNative(sf, srcOff, dstOff, n)
}

// CloneFrom injects (as OpWrite), then clones on the inner device (see
// FaultDevice).
func (d *FaultDevice) CloneFrom(src Device, srcOff, dstOff, n int64) error {
	inner, ok := d.inner.(Cloner)
	if !ok {
		return notSupported("clone", dstOff, n)
	}
	if err := d.injectAs("clone", OpWrite, dstOff, int(n), 0); err != nil {
		return err
	}
	return inner.CloneFrom(src, srcOff, dstOff, n)
}
