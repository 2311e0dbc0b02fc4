package blockdev

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// FileOptions tell OpenFile how to open a path.
type FileOptions struct {
	// Size, when > 0, is the capacity the device should have. A regular
	// file that is missing is created (with Create) and one that is smaller
	// is extended to Size (sparse). Block devices keep their own size.
	Size int64
	// Create creates a missing regular file (mode 0o644).
	Create bool
	// ReadOnly opens the file for reading only; writes then fail with EBADF.
	ReadOnly bool
}

// File is a Device over a regular file or a block device opened with
// O_DIRECT. Atomic writes map to pwritev2(RWF_ATOMIC), FUA to RWF_DSYNC and
// Flush to fdatasync. Its Limits come from statx(STATX_WRITE_ATOMIC |
// STATX_DIOALIGN) and, for block devices, from sysfs queue attributes.
//
// A File is also a Discarder and a Resizer (see space.go): Discard punches
// holes, Resize truncates or extends a regular file, Allocate reserves disk
// space with fallocate.
//
// Lock order: closeMu only; it is held shared by every I/O (which checks its
// range against size under it) and exclusively by Close and Resize, so no
// I/O ever runs on a closed (possibly reused) descriptor and none runs, or
// passed its range check, while the size changes.
type File struct {
	path     string
	limits   Limits
	blockDev bool         // a block device: fixed size
	size     atomic.Int64 // read without a lock; written under closeMu held exclusively

	closeMu sync.RWMutex // guards fd and closed; serializes size changes against I/O
	fd      int
	closed  bool
}

var (
	_ Device    = (*File)(nil)
	_ Discarder = (*File)(nil)
	_ Resizer   = (*File)(nil)
)

// OpenFile opens path with O_DIRECT as a Device and locks it (flock:
// exclusive, or shared with ReadOnly); a path already open for writing
// elsewhere fails with ErrLocked. See FileOptions. Errors are *OpError
// values that unwrap to the errno.
func OpenFile(path string, opts FileOptions) (*File, error) {
	if opts.Size < 0 {
		return nil, &OpError{Op: "open", Path: path, Off: -1, Err: fmt.Errorf("%w: negative size %d", ErrOutOfRange, opts.Size)}
	}
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
	f := &File{path: path, fd: fd}
	if err := f.init(opts); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return f, nil
}

// LockFD takes, without waiting, the exclusive advisory lock OpenFile
// takes on a file it opens for writing, on any open descriptor of a file:
// an error wrapping ErrLocked when another open file holds it. (Creators of
// a data file use it to hold the file before it is a Device.)
func LockFD(fd int) error { return lockFile(fd, false) }

// lockFile takes an advisory lock on the open file: exclusive for a writer,
// shared for a reader, so that two processes (or two Files in one) never
// write the same device at once. The lock goes with the descriptor.
func lockFile(fd int, readOnly bool) error {
	how := unix.LOCK_EX | unix.LOCK_NB
	if readOnly {
		how = unix.LOCK_SH | unix.LOCK_NB
	}
	for {
		err := unix.Flock(fd, how)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("%w: %w", ErrLocked, err)
		}
		return err
	}
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

// Path returns the path the File was opened with.
func (f *File) Path() string { return f.path }

// Size returns the capacity in bytes (a multiple of BlockSize): the size at
// open, or the size the last completed Resize set.
func (f *File) Size() int64 { return f.size.Load() }

// Limits returns the limits read from statx and sysfs at open.
func (f *File) Limits() Limits { return f.limits }

// ReadAt reads len(p) bytes at off. It returns a short count only with an
// error; reading a sparse hole returns zeros.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if err := CheckIO(f.limits, f.size.Load(), p, off, 0); err != nil {
		return 0, &OpError{Op: "read", Path: f.path, Off: off, Len: len(p), Err: err}
	}
	if f.closed {
		return 0, &OpError{Op: "read", Path: f.path, Off: off, Len: len(p), Err: ErrClosed}
	}
	done := 0
	for done < len(p) {
		n, err := unix.Pread(f.fd, p[done:], off+int64(done))
		switch {
		case errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN):
			continue
		case err != nil:
			return done, &OpError{Op: "read", Path: f.path, Off: off + int64(done), Len: len(p) - done, Err: err}
		case n == 0:
			// Past the end of a file someone else truncated: report it.
			return done, &OpError{Op: "read", Path: f.path, Off: off + int64(done), Len: len(p) - done, Err: unix.EIO}
		}
		done += n
	}
	return done, nil
}

// WriteAt writes p at off. Atomic maps to RWF_ATOMIC and must obey
// CheckAtomic; FUA maps to RWF_DSYNC. A short plain write is retried for
// the rest; a short Atomic write fails with ErrShortWrite.
func (f *File) WriteAt(p []byte, off int64, flags Flags) (int, error) {
	op := opName(flags, true)
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if err := CheckIO(f.limits, f.size.Load(), p, off, flags); err != nil {
		return 0, &OpError{Op: op, Path: f.path, Off: off, Len: len(p), Err: err}
	}
	if f.closed {
		return 0, &OpError{Op: op, Path: f.path, Off: off, Len: len(p), Err: ErrClosed}
	}
	var rwf int
	if flags&Atomic != 0 {
		rwf |= unix.RWF_ATOMIC
	}
	if flags&FUA != 0 {
		rwf |= unix.RWF_DSYNC
	}
	done := 0
	for done < len(p) {
		n, err := f.pwrite(p[done:], off+int64(done), rwf)
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

// pwrite uses pwrite(2) for plain writes (no allocation) and pwritev2(2)
// when flags are needed.
func (f *File) pwrite(p []byte, off int64, rwf int) (int, error) {
	if rwf == 0 {
		return unix.Pwrite(f.fd, p, off)
	}
	return unix.Pwritev2(f.fd, [][]byte{p}, off, rwf)
}

// Flush makes every completed write durable (fdatasync).
func (f *File) Flush() error {
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if f.closed {
		return &OpError{Op: "flush", Path: f.path, Off: -1, Err: ErrClosed}
	}
	for {
		err := unix.Fdatasync(f.fd)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return &OpError{Op: "flush", Path: f.path, Off: -1, Err: err}
		}
		return nil
	}
}

// Close closes the descriptor; it does not flush. A second Close returns
// ErrClosed.
func (f *File) Close() error {
	f.closeMu.Lock()
	defer f.closeMu.Unlock()
	if f.closed {
		return &OpError{Op: "close", Path: f.path, Off: -1, Err: ErrClosed}
	}
	f.closed = true
	if err := unix.Close(f.fd); err != nil {
		return &OpError{Op: "close", Path: f.path, Off: -1, Err: err}
	}
	return nil
}
