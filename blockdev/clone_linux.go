package blockdev

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// cloneNative is FICLONERANGE from sf into f; both are open, closeMu is
// held shared on both and the ranges checked.
func (f *File) cloneNative(sf *File, srcOff, dstOff, n int64) error {
	r := unix.FileCloneRange{Src_fd: int64(sf.fd), Src_offset: uint64(srcOff), Src_length: uint64(n), Dest_offset: uint64(dstOff)}
	for {
		err := unix.IoctlFileCloneRange(f.fd, &r)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY):
			return f.spaceErr("clone", dstOff, n, fmt.Errorf("%w: %w", ErrNotSupported, err))
		case err != nil:
			return f.spaceErr("clone", dstOff, n, err)
		}
		return nil
	}
}
