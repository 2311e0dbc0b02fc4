package untornvfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/untorn/untorn/blockdev"
)

// SQLite's lock bytes (os.h; ncruces' vfs/lock.go): every SQLite that
// opens the file with its unix VFS locks bytes in [pendingByte,
// pendingByte+lockSpan) with POSIX advisory locks before it reads or
// writes the file.
const (
	pendingByte  = 0x40000000      // PENDING_BYTE
	reservedByte = pendingByte + 1 // RESERVED_BYTE
	sharedFirst  = pendingByte + 2 // SHARED_FIRST
	sharedSize   = 510             // SHARED_SIZE
	lockSpan     = sharedFirst + sharedSize - pendingByte
)

// fileLock is the lock untornvfs holds on a main database file for as long
// as it has the file open: an open file description lock (fcntl
// F_OFD_SETLK; LockFileEx on Windows, blockdev.LockRange) for writing on
// all of SQLite's lock bytes, PENDING, RESERVED and the SHARED range, on
// a descriptor of its own.
//
// Why this lock: SQLite's unix VFS (os_unix.c, unixLock) takes a SHARED
// lock by read-locking the PENDING byte and then the SHARED range, so a
// write lock on either makes it fail; RESERVED and EXCLUSIVE come only
// after SHARED. A stock SQLite, in this process (ncruces' VFS, which uses
// OFD locks on Linux) or in another (the C library's unix VFS, which uses
// process-associated fcntl locks; the two kinds conflict), therefore gets
// SQLITE_BUSY for every read and write while the lock is held, and never
// reads the file while a checkpoint writes it home. An OFD lock belongs to
// the descriptor, not to the process, so closing another descriptor of the
// same file in this process (atomicio's, a stock connection's) does not
// drop it, as it would a process-associated POSIX lock, and another VFS
// in this process is refused as another process is. Closing the
// descriptor releases it.
type fileLock struct {
	f *os.File
}

// lockFile opens the file at path and takes the lock without waiting. A
// lock held elsewhere is an error wrapping ErrLocked; a missing file one
// wrapping fs.ErrNotExist.
func lockFile(path string) (*fileLock, error) {
	f, err := blockdev.OpenOSFile(path, false, false)
	if err != nil {
		return nil, fmt.Errorf("untornvfs: open %s to lock it: %w", path, err)
	}
	if err := blockdev.LockRange(f, pendingByte, lockSpan); err != nil {
		_ = f.Close()
		if errors.Is(err, blockdev.ErrLocked) {
			err = fmt.Errorf("%w: %w", ErrLocked, err)
		}
		return nil, fmt.Errorf("untornvfs: lock %s: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

// at reports whether path names the locked file now.
func (l *fileLock) at(path string) (bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("untornvfs: stat %s: %w", path, err)
	}
	locked, err := l.f.Stat()
	if err != nil {
		return false, fmt.Errorf("untornvfs: stat %s: %w", path, err)
	}
	return os.SameFile(st, locked), nil
}

// release closes the file, which drops the lock.
func (l *fileLock) release() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("untornvfs: unlock: %w", err)
	}
	return nil
}
