package blockdev

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

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

// CloneFrom clones with FICLONERANGE from src, which must be a File (or a
// FaultDevice over one).
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
	r := unix.FileCloneRange{Src_fd: int64(sf.fd), Src_offset: uint64(srcOff), Src_length: uint64(n), Dest_offset: uint64(dstOff)}
	for {
		err := unix.IoctlFileCloneRange(f.fd, &r)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY):
			return f.spaceErr("clone", dstOff, n, fmt.Errorf("%w: %w", ErrNotSupported, err))
		case err != nil:
			return f.spaceErr("clone", dstOff, n, err)
		}
		return nil
	}
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
