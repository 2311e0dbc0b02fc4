package blockdev

import (
	"errors"
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

// zeroChunk is the largest write Discard's last-resort fallback issues.
const zeroChunk = 1 << 20

// Discard makes [off, off+n) read as zeros and, on a regular file, gives
// its disk space back. It asks, in turn, for:
//
//   - fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE): a hole in a
//     regular file; on a block device (Linux 4.9 and later) a
//     REQ_OP_WRITE_ZEROES that may unmap but guarantees zeros, with no
//     fallback to writing them (EOPNOTSUPP when the device cannot). BLKDISCARD
//     is never used: it does not promise that the range reads as zeros.
//   - fallocate(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE) when the first
//     answers EOPNOTSUPP: zeros, the kernel writing them if it must.
//   - plain O_DIRECT writes of zeros when that too answers EOPNOTSUPP.
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
	err := fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if errors.Is(err, unix.EOPNOTSUPP) {
		err = fallocate(f.fd, unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	}
	if errors.Is(err, unix.EOPNOTSUPP) {
		return f.writeZeros(off, n)
	}
	if err != nil {
		return f.spaceErr("discard", off, n, err)
	}
	return nil
}

// writeZeros writes zeros over [off, off+n); closeMu is held shared.
func (f *File) writeZeros(off, n int64) error {
	buf := AlignedBuffer(int(min(n, zeroChunk)), f.limits.MemAlign)
	for done := int64(0); done < n; {
		p := buf[:min(int64(len(buf)), n-done)]
		w, err := f.pwrite(p, off+done, 0)
		switch {
		case errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN):
			continue
		case err != nil:
			return f.spaceErr("discard", off+done, n-done, err)
		case w == 0:
			return f.spaceErr("discard", off+done, n-done, ErrShortWrite)
		}
		done += int64(w)
	}
	return nil
}

// Resize truncates or extends a regular file to size bytes (ftruncate; the
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
	for {
		err := unix.Ftruncate(f.fd, size)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			var st unix.Stat_t
			if unix.Fstat(f.fd, &st) == nil {
				f.size.Store(st.Size - st.Size%int64(f.limits.BlockSize))
			}
			return &OpError{Op: "resize", Path: f.path, Off: size, Err: err}
		}
		f.size.Store(size)
		return nil
	}
}

// Allocate reserves disk space for [off, off+n) of a regular file with
// fallocate(FALLOC_FL_KEEP_SIZE); the size and the content do not change.
// A file system without fallocate fails with an error wrapping both
// ErrNotSupported and EOPNOTSUPP. On a block device, whose space is always
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
	err := fallocate(f.fd, unix.FALLOC_FL_KEEP_SIZE, off, n)
	if errors.Is(err, unix.EOPNOTSUPP) {
		err = fmt.Errorf("%w: %w", ErrNotSupported, err)
	}
	if err != nil {
		return f.spaceErr("allocate", off, n, err)
	}
	return nil
}

// allocatedBytes answers AllocatedBytes for f.
func (f *File) allocatedBytes() (int64, bool) {
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if f.closed || f.blockDev {
		return 0, false
	}
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return 0, false
	}
	return st.Blocks * 512, true
}

func (f *File) spaceErr(op string, off, n int64, err error) error {
	return &OpError{Op: op, Path: f.path, Off: off, Len: int(n), Err: err}
}
