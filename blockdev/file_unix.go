//go:build unix

package blockdev

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// LockFD takes, without waiting, the exclusive advisory lock OpenFile
// takes on a file it opens for writing, on any open descriptor of a file:
// an error wrapping ErrLocked when another open file holds it. (Creators of
// a data file use it to hold the file before it is a Device.)
func LockFD(fd int) error { return lockFile(fd, false) }

// lockFile takes an advisory lock (flock) on the open file: exclusive for a
// writer, shared for a reader, so that two processes (or two Files in one)
// never write the same device at once. The lock goes with the descriptor.
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

// openOSFile opens path (O_CLOEXEC, which package os always sets).
func openOSFile(path string, readOnly, create bool) (*os.File, error) {
	flags := os.O_RDWR
	if readOnly {
		flags = os.O_RDONLY
	}
	if create {
		flags |= os.O_CREATE
	}
	return os.OpenFile(path, flags, 0o644)
}

// allocatedBytes answers AllocatedBytes for f: st_blocks * 512.
func (f *File) allocatedBytes() (int64, bool) {
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if f.closed || f.blockDev {
		return 0, false
	}
	st, err := f.osf.Stat()
	if err != nil {
		return 0, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int64(sys.Blocks) * 512, true
}
