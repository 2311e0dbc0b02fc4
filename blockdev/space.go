package blockdev

import "fmt"

// Discarder is a Device that can give the space of a range back (a hole).
// File, Mem and FaultDevice implement it (a FaultDevice only as far as the
// device it wraps does).
type Discarder interface {
	Device
	// Discard tells the device that [off, off+n) holds nothing anyone needs:
	// after it the range reads as zeros and (on a file) takes no disk space.
	// Offsets and lengths are multiples of BlockSize and the range lies
	// within [0, Size()); otherwise the call fails with ErrMisaligned or
	// ErrOutOfRange and does nothing. n == 0 does nothing. Crash model: like
	// a plain write of zeros (volatile until the next Flush; at a crash any
	// subset of its blocks may read as zeros, the others as before).
	Discard(off, n int64) error
}

// Resizer is a Device whose capacity can change (a regular file). File,
// Mem and FaultDevice implement it; on a block device, a Mem made by
// NewMem (NewMemFile makes one that behaves like a file), or a FaultDevice
// over a device that is no Resizer, Resize and Allocate fail with
// ErrNotSupported. Resizable tells which devices can.
type Resizer interface {
	Device
	// Resize sets the capacity to size bytes (a multiple of BlockSize, >= 0;
	// otherwise ErrMisaligned or ErrOutOfRange): the device grows with zeros
	// or loses everything at and beyond size. It waits for the I/O in flight
	// and no I/O overlaps it, so every access is checked against either the
	// old size or the new one. Durable with the next Flush (fdatasync covers
	// a size change); at a crash before it the size is the old or the new.
	Resize(size int64) error
	// Allocate reserves disk space for [off, off+n) without changing the
	// size or the content (fallocate with FALLOC_FL_KEEP_SIZE), so that
	// later writes there do not allocate. The range must be block-aligned;
	// on a regular file it may lie past Size() (space for growth ahead),
	// on a block device it must lie within it. ENOSPC is reported
	// wrapped like any write error.
	Allocate(off, n int64) error
}

// AllocatedBytes returns the bytes of disk d occupies and true, or 0 and
// false when d cannot tell. A File answers from fstat (st_blocks * 512,
// which counts metadata blocks of the file system too); a FaultDevice
// answers for the device it wraps. Mem, and any other Device, cannot tell:
// Mem always holds its whole capacity in memory, holes or not. Nor can a
// File over a block device (st_blocks means nothing there), a closed File,
// or one whose fstat fails.
func AllocatedBytes(d Device) (int64, bool) {
	switch d := d.(type) {
	case *File:
		return d.allocatedBytes()
	case *FaultDevice:
		return AllocatedBytes(d.Inner())
	}
	return 0, false
}

// checkRange validates the range [off, off+n) of a space operation on a
// device of the given size and limits, as CheckIO does for I/O.
func checkRange(l Limits, size, off, n int64) error {
	bs := int64(max(l.BlockSize, 1))
	switch {
	case off < 0 || n < 0 || off > size || n > size-off:
		return fmt.Errorf("%w: [%d, +%d) on a device of %d bytes", ErrOutOfRange, off, n, size)
	case off%bs != 0 || n%bs != 0:
		return fmt.Errorf("%w: [%d, +%d) is not a multiple of the block size %d", ErrMisaligned, off, n, bs)
	}
	return nil
}

// checkSize validates a new capacity for Resize.
func checkSize(l Limits, size int64) error {
	bs := int64(max(l.BlockSize, 1))
	switch {
	case size < 0:
		return fmt.Errorf("%w: negative size %d", ErrOutOfRange, size)
	case size%bs != 0:
		return fmt.Errorf("%w: size %d is not a multiple of the block size %d", ErrMisaligned, size, bs)
	}
	return nil
}
