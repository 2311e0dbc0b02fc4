package pagecache

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWriteSplitsLargeCleanFolio: a small write into a large clean folio
// (readahead makes those) must not dirty the whole folio, or writeback
// would write all of it: the clean folio is dropped and the write gets a
// folio of its own size.
func TestWriteSplitsLargeCleanFolio(t *testing.T) {
	c := newTestCache(t, Config{Budget: 8 << 20})
	dev := bytes.Repeat([]byte{7}, MaxFolioSize)
	require.NoError(t, c.Fill(0, dev))
	ref, ok := c.Lookup(0)
	require.True(t, ok)
	require.Equal(t, MaxFolioSize, ref.Size, "Fill made one large folio")

	fill := func(off int64, buf []byte) error { copy(buf, dev[off:]); return nil }
	p := bytes.Repeat([]byte{9}, 16<<10)
	_, err := c.Write(context.Background(), p, 64<<10, fill)
	require.NoError(t, err)
	require.EqualValues(t, 16<<10, c.DirtyBytes(), "only the written pages are dirty")

	// An unaligned write dirties only the pages it touches.
	_, err = c.Write(context.Background(), []byte("xy"), 1<<20+5, fill)
	require.NoError(t, err)
	require.EqualValues(t, 16<<10+PageSize, c.DirtyBytes())

	got := make([]byte, 8)
	n, _, err := c.Read(got, 1<<20+3)
	require.NoError(t, err)
	require.Equal(t, []byte{7, 7, 'x', 'y', 7, 7, 7, 7}, got[:n])

	// A write covering a whole clean folio reuses it.
	require.NoError(t, c.Fill(4<<20, bytes.Repeat([]byte{1}, 64<<10)))
	_, err = c.Write(context.Background(), bytes.Repeat([]byte{2}, 64<<10), 4<<20, fill)
	require.NoError(t, err)
	ref, ok = c.Lookup(4 << 20)
	require.True(t, ok)
	require.Equal(t, 64<<10, ref.Size)
}
