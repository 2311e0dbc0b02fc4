package blockdev

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
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
	// Portable opens the file the way every platform can: positioned
	// reads and writes through the operating system's cache, a flush that
	// reaches the drive (fdatasync, F_FULLFSYNC, FlushFileBuffers), no
	// untorn writes (Limits with AtomicMax 0), Discard writing zeros,
	// Allocate and CloneFrom unsupported (see file_portable.go). On macOS
	// and Windows every File is portable; on Linux this option selects it
	// instead of O_DIRECT and RWF_ATOMIC, so that the code those systems
	// run is tested here.
	Portable bool
}

// File is a Device over a regular file or (on Linux) a block device.
//
// On Linux, unless FileOptions.Portable is set, it is opened with
// O_DIRECT: Atomic writes map to pwritev2(RWF_ATOMIC), FUA to RWF_DSYNC and
// Flush to fdatasync, and its Limits come from statx(STATX_WRITE_ATOMIC |
// STATX_DIOALIGN) and, for block devices, from sysfs queue attributes
// (file_linux.go). Everywhere else, and with Portable, it is the portable
// File (file_portable.go): positioned reads and writes, no untorn writes,
// and a per-system flush and lock (file_darwin.go, file_windows.go).
//
// A File is also a Discarder and a Resizer (see space.go): Discard punches
// holes (or writes zeros), Resize truncates or extends a regular file,
// Allocate reserves disk space with fallocate (Linux, O_DIRECT only).
//
// Lock order: closeMu only; it is held shared by every I/O (which checks its
// range against size under it) and exclusively by Close and Resize, so no
// I/O ever runs on a closed (possibly reused) descriptor and none runs, or
// passed its range check, while the size changes.
type File struct {
	path     string
	limits   Limits
	blockDev bool         // a block device: fixed size
	native   bool         // Linux O_DIRECT (file_linux.go); else portable
	size     atomic.Int64 // read without a lock; written under closeMu held exclusively

	closeMu sync.RWMutex // guards osf, fd and closed; serializes size changes against I/O
	osf     *os.File     // the open file
	fd      int          // its descriptor (unix) or handle (windows)
	closed  bool
}

var (
	_ Device    = (*File)(nil)
	_ Discarder = (*File)(nil)
	_ Resizer   = (*File)(nil)
)

// OpenFile opens path as a Device and locks it (exclusive, or shared with
// ReadOnly: flock on Unix, LockFileEx on Windows); a path already open for
// writing elsewhere fails with ErrLocked. See FileOptions. Errors are
// *OpError values that unwrap to the errno.
func OpenFile(path string, opts FileOptions) (*File, error) {
	if opts.Size < 0 {
		return nil, &OpError{Op: "open", Path: path, Off: -1, Err: fmt.Errorf("%w: negative size %d", ErrOutOfRange, opts.Size)}
	}
	if opts.Portable || !haveNative {
		return openPortable(path, opts)
	}
	return openNative(path, opts)
}

// Path returns the path the File was opened with.
func (f *File) Path() string { return f.path }

// Size returns the capacity in bytes (a multiple of BlockSize): the size at
// open, or the size the last completed Resize set.
func (f *File) Size() int64 { return f.size.Load() }

// Limits returns the limits read at open.
func (f *File) Limits() Limits { return f.limits }

// Portable reports whether f is the portable File (see
// FileOptions.Portable): no untorn writes, no O_DIRECT.
func (f *File) Portable() bool { return !f.native }

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
	n, err := f.osf.ReadAt(p, off)
	if n < len(p) {
		if err == nil || errors.Is(err, io.EOF) {
			// Past the end of a file someone else truncated: report it.
			err = errEIO
		}
		return n, &OpError{Op: "read", Path: f.path, Off: off + int64(n), Len: len(p) - n, Err: osErr(err)}
	}
	return n, nil
}

// WriteAt writes p at off. Atomic maps to RWF_ATOMIC (native File only)
// and must obey CheckAtomic; FUA maps to RWF_DSYNC, or to a flush after the
// write on the portable File. A short plain write is retried for the rest;
// a short Atomic write fails with ErrShortWrite.
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
	if f.native && flags != 0 {
		return f.writeNative(p, off, flags)
	}
	n, err := f.osf.WriteAt(p, off)
	if err == nil && n < len(p) {
		err = ErrShortWrite
	}
	if err == nil && flags&FUA != 0 {
		err = f.syncData()
	}
	if err != nil {
		return n, &OpError{Op: op, Path: f.path, Off: off + int64(n), Len: len(p) - n, Err: osErr(err)}
	}
	return n, nil
}

// Flush makes every completed write durable: fdatasync on Linux,
// fcntl(F_FULLFSYNC) on macOS (its fsync leaves the data in the drive's
// cache), FlushFileBuffers on Windows.
func (f *File) Flush() error {
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if f.closed {
		return &OpError{Op: "flush", Path: f.path, Off: -1, Err: ErrClosed}
	}
	if err := f.syncData(); err != nil {
		return &OpError{Op: "flush", Path: f.path, Off: -1, Err: err}
	}
	return nil
}

// Close closes the file; it does not flush. A second Close returns
// ErrClosed.
func (f *File) Close() error {
	f.closeMu.Lock()
	defer f.closeMu.Unlock()
	if f.closed {
		return &OpError{Op: "close", Path: f.path, Off: -1, Err: ErrClosed}
	}
	f.closed = true
	if err := f.osf.Close(); err != nil {
		return &OpError{Op: "close", Path: f.path, Off: -1, Err: osErr(err)}
	}
	return nil
}

// syncData flushes f (see Flush); closeMu is held.
func (f *File) syncData() error { return syncFD(f.fd) }

// osErr unwraps the *fs.PathError the os package adds (the OpError names
// the path already) to the errno beneath.
func osErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
