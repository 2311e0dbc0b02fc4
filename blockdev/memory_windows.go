package blockdev

import "fmt"

// MapMemory allocates n bytes of zeroed memory aligned to align (a power
// of two) from the Go heap. It returns the aligned n bytes and the whole
// allocation, which UnmapMemory releases (to the garbage collector).
func MapMemory(n int64, align int) (mem, raw []byte, err error) {
	raw = make([]byte, int(n)+align)
	return alignedIn(raw, n, align), raw, nil
}

// UnmapMemory leaves the allocation to the garbage collector.
func UnmapMemory([]byte) error { return nil }

// AdviseHugePages does nothing on Windows.
func AdviseHugePages([]byte) {}

// Populate is not offered on Windows: the caller touches the memory.
func Populate([]byte) error {
	return fmt.Errorf("%w: no populate advice on Windows", ErrNotSupported)
}

// ReleaseMemory does nothing on Windows: the memory stays the process's
// until UnmapMemory.
func ReleaseMemory([]byte) {}
