package blockdev

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// On Linux a File is opened with O_DIRECT unless FileOptions.Portable is
// set: untorn writes with RWF_ATOMIC where the file system has them.
const haveNative = true

// openNative opens path with O_DIRECT and locks it (see OpenFile).
func openNative(path string, opts FileOptions) (*File, error) {
	flags := unix.O_DIRECT | unix.O_CLOEXEC
	if opts.ReadOnly {
		flags |= unix.O_RDONLY
	} else {
		flags |= unix.O_RDWR
	}
	if opts.Create && !opts.ReadOnly {
		flags |= unix.O_CREAT
	}
	fd, err := openRetry(path, flags)
	if err != nil {
		return nil, &OpError{Op: "open", Path: path, Off: -1, Err: err}
	}
	if err := lockFile(fd, opts.ReadOnly); err != nil {
		_ = unix.Close(fd)
		return nil, &OpError{Op: "lock", Path: path, Off: -1, Err: err}
	}
	f := &File{path: path, fd: fd, native: true}
	if err := f.init(opts); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	f.osf = os.NewFile(uintptr(fd), path)
	return f, nil
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0o644)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

func (f *File) init(opts FileOptions) error {
	info, err := statFD(f.fd)
	if err != nil {
		return &OpError{Op: "statx", Path: f.path, Off: -1, Err: err}
	}
	var size int64
	switch info.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		f.limits = info.limits()
		size = int64(info.Size)
		if opts.Size > size && !opts.ReadOnly {
			if err := unix.Ftruncate(f.fd, opts.Size); err != nil {
				return &OpError{Op: "truncate", Path: f.path, Off: opts.Size, Err: err}
			}
			size = opts.Size
		}
	case unix.S_IFBLK:
		f.limits = blockDeviceLimits(info)
		f.blockDev = true
		end, err := unix.Seek(f.fd, 0, 2)
		if err != nil {
			return &OpError{Op: "seek", Path: f.path, Off: -1, Err: err}
		}
		size = end
	default:
		return &OpError{Op: "open", Path: f.path, Off: -1, Err: fmt.Errorf("%w: not a regular file or block device", unix.EINVAL)}
	}
	f.size.Store(size - size%int64(f.limits.BlockSize))
	return nil
}

// writeNative writes p at off with flags (Atomic: RWF_ATOMIC, FUA:
// RWF_DSYNC) with pwritev2; closeMu is held shared and the write checked.
func (f *File) writeNative(p []byte, off int64, flags Flags) (int, error) {
	op := opName(flags, true)
	var rwf int
	if flags&Atomic != 0 {
		rwf |= unix.RWF_ATOMIC
	}
	if flags&FUA != 0 {
		rwf |= unix.RWF_DSYNC
	}
	done := 0
	for done < len(p) {
		n, err := unix.Pwritev2(f.fd, [][]byte{p[done:]}, off+int64(done), rwf)
		switch {
		case errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN):
			if flags&Atomic != 0 && done > 0 {
				return done, &OpError{Op: op, Path: f.path, Off: off, Len: len(p), Err: ErrShortWrite}
			}
			continue
		case err != nil:
			if flags&Atomic != 0 && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP)) {
				err = fmt.Errorf("%w: %w", ErrAtomicInvalid, err)
			}
			return done, &OpError{Op: op, Path: f.path, Off: off + int64(done), Len: len(p) - done, Err: err}
		case n == 0:
			return done, &OpError{Op: op, Path: f.path, Off: off + int64(done), Len: len(p) - done, Err: ErrShortWrite}
		}
		done += n
		if flags&Atomic != 0 && done < len(p) {
			return done, &OpError{Op: op, Path: f.path, Off: off, Len: len(p), Err: ErrShortWrite}
		}
	}
	return done, nil
}

// writevNative writes bufs at off with pwritev2(2) (RWF_DSYNC for FUA),
// at most maxIOV buffers per call, retrying a short write for the rest;
// closeMu is held shared and the write checked.
func (f *File) writevNative(bufs [][]byte, off int64, flags Flags, total int) (int, error) {
	op := opName(flags, true)
	var rwf int
	if flags&FUA != 0 {
		rwf |= unix.RWF_DSYNC
	}
	done := 0
	for len(bufs) > 0 {
		iov := bufs[:min(len(bufs), maxIOV)]
		n, err := unix.Pwritev2(f.fd, iov, off+int64(done), rwf)
		switch {
		case errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN):
			continue
		case err != nil:
			return done, &OpError{Op: op, Path: f.path, Off: off + int64(done), Len: total - done, Err: err}
		case n == 0:
			return done, &OpError{Op: op, Path: f.path, Off: off + int64(done), Len: total - done, Err: ErrShortWrite}
		}
		done += n
		bufs = skipBytes(bufs, n)
	}
	return done, nil
}

// syncFD is fdatasync, for the native and the portable File alike.
func syncFD(fd int) error {
	for {
		err := unix.Fdatasync(fd)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// noCache: the portable File on Linux goes through the page cache as it
// is (pread, pwrite and fdatasync only).
func noCache(int) {}

// discardNative asks, in turn, for:
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
// closeMu is held shared and the range checked.
func (f *File) discardNative(off, n int64) error {
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

// allocateNative is fallocate(FALLOC_FL_KEEP_SIZE); closeMu is held
// shared and the range checked.
func (f *File) allocateNative(off, n int64) error {
	err := fallocate(f.fd, unix.FALLOC_FL_KEEP_SIZE, off, n)
	if errors.Is(err, unix.EOPNOTSUPP) {
		err = fmt.Errorf("%w: %w", ErrNotSupported, err)
	}
	if err != nil {
		return f.spaceErr("allocate", off, n, err)
	}
	return nil
}

// fallocate calls fallocate(2), retrying on EINTR.
func fallocate(fd int, mode uint32, off, n int64) error {
	for {
		err := unix.Fallocate(fd, mode, off, n)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// ProbeAtomicWrite asks the kernel directly, bypassing CheckAtomic, for
// one untorn write of p at off into the file at path (O_DIRECT,
// pwritev2(RWF_ATOMIC)): the kernel's own answer, for probes and tests.
// Elsewhere than on Linux it fails with ErrNotSupported.
func ProbeAtomicWrite(path string, p []byte, off int64) error {
	fd, err := openRetry(path, unix.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC)
	if err != nil {
		return &OpError{Op: "open", Path: path, Off: -1, Err: err}
	}
	defer unix.Close(fd)
	if _, err := unix.Pwritev2(fd, [][]byte{p}, off, unix.RWF_ATOMIC); err != nil {
		return &OpError{Op: "atomic write", Path: path, Off: off, Len: len(p), Err: err}
	}
	return nil
}
