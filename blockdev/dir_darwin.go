package blockdev

import (
	"errors"

	"golang.org/x/sys/unix"
)

// renameNoReplace is renameatx_np(RENAME_EXCL) within one directory.
func renameNoReplace(dirfd int, from, to string) error {
	return unix.RenameatxNp(dirfd, from, dirfd, to, unix.RENAME_EXCL)
}

// syncDir is fcntl(F_FULLFSYNC) of a directory; where it fails for any
// reason but an I/O error (a file system that refuses it on directories),
// fsync, whose answer counts.
func syncDir(fd int) error {
	for {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil && !errors.Is(err, unix.EIO):
			return fsyncRetry(fd)
		}
		return err
	}
}
