package atomicio

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/internal/xfstest"
)

// TestNativeFileGrows runs a native file on real XFS (RWF_ATOMIC) through
// growth, truncation and batches: the file is an ordinary file whose size
// is the File's, a batch within one untorn unit works, one that spreads
// further or changes the size with its writes is refused with nothing
// written, and a reopen reads it all back.
func TestNativeFileGrows(t *testing.T) {
	path := filepath.Join(xfstest.Mount(t), "native")
	f, err := Open(path, Options{Mode: ModeNative, CacheSize: 8 << 20})
	require.NoError(t, err)
	defer func() { _ = f.Abandon() }()
	require.Equal(t, ModeNative, f.Mode())
	require.Zero(t, f.Size())
	const page = 16 << 10
	p := pattern(page, 5)
	_, err = WriteAt(f, p, 3*page) // past the end: the file grows, the gap reads as zeros
	require.NoError(t, err)
	require.EqualValues(t, 4*page, f.Size())
	got := make([]byte, 4*page+1)
	n, err := f.ReadAt(got, 0)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, 4*page, n)
	require.True(t, bytes.Equal(make([]byte, 3*page), got[:3*page]))
	require.True(t, bytes.Equal(p, got[3*page:4*page]))

	// A batch within one 64 KiB unit.
	b := f.NewBatch()
	_, err = b.WriteAt(pattern(page, 6), 0)
	require.NoError(t, err)
	_, err = b.WriteAt(pattern(page, 7), 2*page)
	require.NoError(t, err)
	require.NoError(t, b.Commit())
	// Spread over 4 MiB: more than one RWF_ATOMIC unit can hold.
	require.NoError(t, f.Truncate(8<<20))
	b = f.NewBatch()
	_, _ = b.WriteAt(pattern(page, 8), 0)
	_, _ = b.WriteAt(pattern(page, 8), 4<<20)
	require.ErrorIs(t, b.Commit(), ErrTooLarge)
	// Writes and a size change together.
	b = f.NewBatch()
	_, _ = b.WriteAt(pattern(page, 9), 0)
	require.NoError(t, b.Truncate(page))
	require.ErrorIs(t, b.Commit(), ErrNotSupported)
	require.ErrorIs(t, f.Truncate(page+1), ErrNotSupported, "native sizes are whole blocks")
	require.NoError(t, f.Truncate(3*page))
	require.EqualValues(t, 3*page, f.Size())
	require.NoError(t, f.Sync())
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.EqualValues(t, 3*page, st.Size(), "the file is as large as the File says")
	require.NoError(t, f.Close())

	g, err := Open(path, Options{Mode: ModeNative})
	require.NoError(t, err)
	defer func() { _ = g.Abandon() }()
	require.Equal(t, ModeNative, g.Mode())
	require.EqualValues(t, 3*page, g.Size())
	got = make([]byte, 3*page)
	_, err = g.ReadAt(got, 0)
	require.NoError(t, err)
	require.True(t, bytes.Equal(pattern(page, 6), got[:page]))
	require.True(t, bytes.Equal(make([]byte, page), got[page:2*page]))
	require.True(t, bytes.Equal(pattern(page, 7), got[2*page:]))
	require.NoError(t, g.Close())
}
