//go:build linux || darwin

package blockdev

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

func lockRange(f *os.File, off, n int64) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: off, Len: n}
	for {
		err := unix.FcntlFlock(f.Fd(), fOFDSetLk, &lk)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EACCES):
			return fmt.Errorf("%w: %w", ErrLocked, err)
		}
		return fmt.Errorf("fcntl(F_OFD_SETLK): %w", err)
	}
}
