package blockdev

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// AdviseHugePages does nothing on macOS.
func AdviseHugePages([]byte) {}

// Populate is not offered on macOS: the caller touches the memory.
func Populate([]byte) error {
	return fmt.Errorf("%w: no MADV_POPULATE_WRITE on macOS", ErrNotSupported)
}

// ReleaseMemory gives mem's pages back to the system (MADV_FREE).
func ReleaseMemory(mem []byte) { _ = unix.Madvise(mem, unix.MADV_FREE) }
