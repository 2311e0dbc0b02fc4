package blockdev

import (
	"errors"

	"golang.org/x/sys/unix"
)

// syncFD is fcntl(F_FULLFSYNC): on macOS fsync hands the data to the
// drive but does not make the drive write its cache, F_FULLFSYNC does
// (SQLite's fullfsync, bbolt). A file system without it (ENOTSUP, EINVAL:
// some network file systems) gets fsync, the most it offers.
func syncFD(fd int) error {
	for {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY):
			return fsyncRetry(fd)
		}
		return err
	}
}

func fsyncRetry(fd int) error {
	for {
		err := unix.Fsync(fd)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// noCache asks macOS to keep the file's data out of its cache
// (fcntl(F_NOCACHE), the nearest thing to O_DIRECT): the cache above is
// untorn's own. Advice only: a refusal changes nothing.
func noCache(fd int) { _, _ = unix.FcntlInt(uintptr(fd), unix.F_NOCACHE, 1) }
