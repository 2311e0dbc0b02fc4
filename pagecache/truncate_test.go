package pagecache

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTruncate: folios past the cut go, dirty ones too (with their dirty
// bytes), a folio the cut crosses keeps its bytes before it and zeros
// after, one a reservation holds stays for its writer, and bad input
// changes nothing.
func TestTruncate(t *testing.T) {
	c, err := New(Config{Budget: 4 << 20})
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	zeroFill := func(off int64, buf []byte) error { clear(buf); return nil }
	big := bytes.Repeat([]byte{1}, 64<<10) // one 64 KiB folio at 0
	_, err = c.Write(ctx, big, 0, zeroFill)
	require.NoError(t, err)
	_, err = c.Write(ctx, bytes.Repeat([]byte{2}, PageSize), 1<<20, zeroFill)
	require.NoError(t, err)
	r, err := c.Reserve(ctx, 2<<20, PageSize, zeroFill) // a writer between Reserve and Commit
	require.NoError(t, err)
	before := c.DirtyBytes()

	_, err = c.Truncate(100)
	require.ErrorIs(t, err, ErrInvalid, "not page aligned")
	dropped, err := c.Truncate(8192)
	require.NoError(t, err)
	require.Equal(t, 1, dropped, "the folio at 1 MiB")
	require.Equal(t, before-PageSize, c.DirtyBytes())
	_, ok := c.Lookup(1 << 20)
	require.False(t, ok)

	got := make([]byte, 64<<10)
	n, _, err := c.Read(got, 0)
	require.NoError(t, err)
	require.Equal(t, len(got), n, "the crossed folio stays")
	require.Equal(t, bytes.Repeat([]byte{1}, 8192), got[:8192])
	require.Equal(t, make([]byte, 64<<10-8192), got[8192:])

	require.NoError(t, r.Commit(bytes.Repeat([]byte{3}, PageSize)))
	n, _, err = c.Read(got[:PageSize], 2<<20)
	require.NoError(t, err)
	require.Equal(t, PageSize, n, "the reserved folio stays for its writer")
	require.Equal(t, bytes.Repeat([]byte{3}, PageSize), got[:PageSize])
}
