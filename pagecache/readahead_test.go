package pagecache

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadaheadGrowsAndResets(t *testing.T) {
	var r Readahead
	off := int64(0)
	var windows []int64
	for range 10 {
		e := r.OnMiss(off, PageSize)
		require.Equal(t, off, e.Off)
		windows = append(windows, e.Len)
		off = e.End() // a sequential reader hits everything read ahead, then misses here
	}
	require.Equal(t, []int64{16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10,
		1 << 20, 2 << 20, 2 << 20, 2 << 20}, windows)

	e := r.OnMiss(100<<20+123, 10) // random: back to the minimum
	require.Equal(t, Extent{Off: 100 << 20, Len: 16 << 10}, e)
	require.Equal(t, int64(16<<10), r.Window())

	// Sequential by request (the reader did not wait for the readahead end) also grows.
	e = r.OnMiss(100<<20+133, 5)
	require.Equal(t, int64(32<<10), e.Len)

	// A request larger than the window is covered whole.
	r = Readahead{Min: PageSize, Max: 8 * PageSize}
	e = r.OnMiss(PageSize, 20*PageSize)
	require.Equal(t, Extent{Off: PageSize, Len: 20 * PageSize}, e)
	e = r.OnMiss(21*PageSize, 1)
	require.Equal(t, Extent{Off: 21 * PageSize, Len: 2 * PageSize}, e)
}
