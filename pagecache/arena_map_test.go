package pagecache

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestMapArenaAligned checks that folio memory starts on a huge-page
// boundary (so transparent huge pages can back all of it), has the size
// asked for, lies inside the mapping unmap releases, and is usable with
// and without prefaulting.
func TestMapArenaAligned(t *testing.T) {
	for _, prefault := range []bool{false, true} {
		a, err := newArena(6<<20+8<<10, prefault)
		require.NoError(t, err)
		require.Zero(t, uintptr(unsafe.Pointer(unsafe.SliceData(a.mem)))%hugePage, "prefault %v", prefault)
		require.Len(t, a.mem, 6<<20+8<<10)
		start := uintptr(unsafe.Pointer(unsafe.SliceData(a.raw)))
		at := uintptr(unsafe.Pointer(unsafe.SliceData(a.mem)))
		require.True(t, at >= start && at+uintptr(len(a.mem)) <= start+uintptr(len(a.raw)), "folio memory lies in the mapping")
		a.mem[0], a.mem[len(a.mem)-1] = 1, 2
		require.NoError(t, a.unmap())
		require.Nil(t, a.mem)
		require.NoError(t, a.unmap(), "a second unmap does nothing")
	}
}
