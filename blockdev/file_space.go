package blockdev

import (
	"fmt"
	"math"
)

// zeroChunk is the largest write Discard's last-resort fallback issues.
const zeroChunk = 1 << 20

// Discard makes [off, off+n) read as zeros and, on a regular file, gives
// its disk space back where it can. The native File (Linux, O_DIRECT)
// punches a hole, or has the kernel zero the range (see discardNative);
// the portable File writes zeros, whose space stays allocated.
//
// Crash model: like a plain write of zeros, volatile until the next Flush.
func (f *File) Discard(off, n int64) error {
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if err := checkRange(f.limits, f.size.Load(), off, n); err != nil {
		return f.spaceErr("discard", off, n, err)
	}
	if f.closed {
		return f.spaceErr("discard", off, n, ErrClosed)
	}
	if n == 0 {
		return nil
	}
	if f.native {
		return f.discardNative(off, n)
	}
	return f.writeZeros(off, n)
}

// Resize truncates or extends a regular file to size bytes (ftruncate,
// SetEndOfFile on Windows; the
// grown part is a hole that reads as zeros). It holds closeMu exclusively,
// so it waits for the I/O in flight and no I/O starts until Size has the
// new value. A block device fails with ErrNotSupported. Should ftruncate
// fail, Size is re-read from the file, which the kernel may have changed.
func (f *File) Resize(size int64) error {
	if err := checkSize(f.limits, size); err != nil {
		return &OpError{Op: "resize", Path: f.path, Off: size, Err: err}
	}
	f.closeMu.Lock()
	defer f.closeMu.Unlock()
	if f.closed {
		return &OpError{Op: "resize", Path: f.path, Off: size, Err: ErrClosed}
	}
	if f.blockDev {
		return &OpError{Op: "resize", Path: f.path, Off: size, Err: fmt.Errorf("%w: a block device has a fixed size", ErrNotSupported)}
	}
	if err := f.osf.Truncate(size); err != nil {
		if st, serr := f.osf.Stat(); serr == nil {
			f.size.Store(st.Size() - st.Size()%int64(f.limits.BlockSize))
		}
		return &OpError{Op: "resize", Path: f.path, Off: size, Err: osErr(err)}
	}
	f.size.Store(size)
	return nil
}

// Allocate reserves disk space for [off, off+n) of a regular file with
// fallocate(FALLOC_FL_KEEP_SIZE); the size and the content do not change.
// A file system without fallocate fails with an error wrapping both
// ErrNotSupported and EOPNOTSUPP, the portable File with ErrNotSupported. On a block device, whose space is always
// there, it only validates the range.
func (f *File) Allocate(off, n int64) error {
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	// Past the size too (that is what KEEP_SIZE is for), on a regular file.
	limit := f.size.Load()
	if !f.blockDev {
		limit = math.MaxInt64
	}
	if err := checkRange(f.limits, limit, off, n); err != nil {
		return f.spaceErr("allocate", off, n, err)
	}
	if f.closed {
		return f.spaceErr("allocate", off, n, ErrClosed)
	}
	if n == 0 || f.blockDev {
		return nil
	}
	if !f.native {
		return f.spaceErr("allocate", off, n, fmt.Errorf("%w: the portable file does not preallocate", ErrNotSupported))
	}
	return f.allocateNative(off, n)
}

func (f *File) spaceErr(op string, off, n int64, err error) error {
	return &OpError{Op: op, Path: f.path, Off: off, Len: int(n), Err: err}
}
