package blockdev

import (
	"fmt"
	"os"
	"syscall"
)

// The portable File: what every platform offers, with the names of its
// system calls in one small file per system (file_unix.go,
// file_linux.go, file_darwin.go, file_windows.go):
//
//   - reads and writes: positioned (pread/pwrite, ReadFile/WriteFile with
//     an offset), through the system's cache; on macOS the cache is asked
//     to keep out of the way (F_NOCACHE), as O_DIRECT would;
//   - Flush: fdatasync (Linux), fcntl(F_FULLFSYNC) (macOS, whose fsync
//     does not flush the drive's cache; SQLite and bbolt do the same),
//     FlushFileBuffers (Windows); FUA is a write followed by that flush;
//   - no untorn writes: Limits has AtomicMin = AtomicMax = 0, so every
//     Atomic write fails with ErrAtomicUnsupported and the layers above
//     (journal mode, COW) make writes untorn themselves;
//   - the lock: flock (Unix), LockFileEx on one byte far past any data
//     (Windows, where locks are mandatory for the bytes they cover);
//   - Discard writes zeros (the contract's crash model of a discard; the
//     space stays allocated), Allocate and CloneFrom are not supported;
//   - regular files only.

// portableLimits are the portable File's limits: 4 KiB blocks (the page
// size of every system here, and the unit the layers above write in), no
// buffer alignment, no untorn writes.
var portableLimits = Limits{BlockSize: 4096, MemAlign: 1}

// errEIO is what a read past the end of a file (truncated under the File)
// reports.
var errEIO error = syscall.EIO

// openPortable opens path as a portable File (see FileOptions.Portable).
func openPortable(path string, opts FileOptions) (*File, error) {
	osf, err := openOSFile(path, opts.ReadOnly, opts.Create && !opts.ReadOnly)
	if err != nil {
		return nil, &OpError{Op: "open", Path: path, Off: -1, Err: osErr(err)}
	}
	f := &File{path: path, osf: osf, fd: int(osf.Fd()), limits: portableLimits}
	if err := lockFile(f.fd, opts.ReadOnly); err != nil {
		_ = osf.Close()
		return nil, &OpError{Op: "lock", Path: path, Off: -1, Err: err}
	}
	st, err := osf.Stat()
	if err != nil {
		_ = osf.Close()
		return nil, &OpError{Op: "stat", Path: path, Off: -1, Err: osErr(err)}
	}
	if !st.Mode().IsRegular() {
		_ = osf.Close()
		return nil, &OpError{Op: "open", Path: path, Off: -1, Err: fmt.Errorf("%w: not a regular file", syscall.EINVAL)}
	}
	size := st.Size()
	if opts.Size > size && !opts.ReadOnly {
		if err := osf.Truncate(opts.Size); err != nil {
			_ = osf.Close()
			return nil, &OpError{Op: "truncate", Path: path, Off: opts.Size, Err: osErr(err)}
		}
		size = opts.Size
	}
	noCache(f.fd)
	f.size.Store(size - size%int64(f.limits.BlockSize))
	return f, nil
}

// OpenOSFile opens path for reading (and writing unless readOnly), creating
// it when create is set (mode 0o644), the way the portable File does: on
// Windows with FILE_SHARE_DELETE, so that the file can be renamed and
// removed while it is open, as on Unix. It takes no lock (see LockFile).
func OpenOSFile(path string, readOnly, create bool) (*os.File, error) {
	return openOSFile(path, readOnly, create)
}

// LockFile takes, without waiting, the exclusive lock OpenFile takes on a
// file it opens for writing, on any open file: an error wrapping ErrLocked
// when another open file holds it. The lock goes with the open file.
func LockFile(osf *os.File) error { return lockFile(int(osf.Fd()), false) }

// writeZeros writes zeros over [off, off+n); closeMu is held shared.
func (f *File) writeZeros(off, n int64) error {
	buf := AlignedBuffer(int(min(n, zeroChunk)), f.limits.MemAlign)
	for done := int64(0); done < n; {
		p := buf[:min(int64(len(buf)), n-done)]
		w, err := f.osf.WriteAt(p, off+done)
		done += int64(w)
		if err != nil {
			return f.spaceErr("discard", off+done, n-done, osErr(err))
		}
	}
	return nil
}
