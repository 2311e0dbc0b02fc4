package blockdev

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// LockFD takes, without waiting, the exclusive lock OpenFile takes on a
// file it opens for writing, on any open handle of a file (the handle as
// an int): an error wrapping ErrLocked when another open file holds it.
func LockFD(fd int) error { return lockFile(fd, false) }

// lockOffset is the byte the lock covers: Windows locks are mandatory for
// the bytes they cover (reads and writes through other handles fail), so
// the lock takes one byte far past any data, as SQLite's locks do.
const lockOffset = 1<<62 + 1<<61

// lockFile takes LockFileEx on lockOffset, exclusive for a writer and
// shared for a reader, without waiting. The lock goes with the handle.
func lockFile(fd int, readOnly bool) error {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if !readOnly {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	ov := windows.Overlapped{Offset: uint32(lockOffset & 0xffffffff), OffsetHigh: uint32(lockOffset >> 32)}
	err := windows.LockFileEx(windows.Handle(fd), flags, 0, 1, 0, &ov)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return fmt.Errorf("%w: %w", ErrLocked, err)
	}
	return err
}

// openOSFile opens path with FILE_SHARE_DELETE besides read and write
// sharing (package os leaves it out): the file can then be renamed and
// removed while open, which creating a file atomically and removing a
// journal need.
func openOSFile(path string, readOnly, create bool) (*os.File, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	access := uint32(windows.GENERIC_READ)
	if !readOnly {
		access |= windows.GENERIC_WRITE
	}
	disposition := uint32(windows.OPEN_EXISTING)
	if create {
		disposition = windows.OPEN_ALWAYS
	}
	h, err := windows.CreateFile(name, access,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, disposition, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// syncFD is FlushFileBuffers: the file's data and metadata reach the
// drive, whose cache it flushes.
func syncFD(fd int) error { return windows.FlushFileBuffers(windows.Handle(fd)) }

// noCache: Windows has no advice that leaves positioned writes as they
// are; the system cache stays.
func noCache(int) {}

// allocatedBytes: Windows reports no allocation through this package.
func (f *File) allocatedBytes() (int64, bool) { return 0, false }
