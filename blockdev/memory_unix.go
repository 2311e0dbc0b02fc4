//go:build unix

package blockdev

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// MapMemory maps n bytes of zeroed anonymous memory aligned to align (a
// power of two). It returns the aligned n bytes and the whole mapping,
// which UnmapMemory releases.
func MapMemory(n int64, align int) (mem, raw []byte, err error) {
	raw, err = unix.Mmap(-1, 0, int(n)+align, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %d bytes: %w", int(n)+align, err)
	}
	return alignedIn(raw, n, align), raw, nil
}

// UnmapMemory releases a mapping MapMemory returned (as raw).
func UnmapMemory(raw []byte) error {
	if err := unix.Munmap(raw); err != nil {
		return fmt.Errorf("munmap: %w", err)
	}
	return nil
}
