package journal

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestFileStaysTheCallersFile: a data file in its own layout, with an
// unaligned length, goes through the journal and comes out of Close as an
// ordinary file with exactly the bytes written and the exact size, which
// os.ReadFile reads; the journal is then empty, and a new journal over the
// file starts from that length.
func TestFileStaysTheCallersFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "data")
	want := make([]byte, 10000) // not a multiple of the block size
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	require.NoError(t, os.WriteFile(path, want, 0o644))

	open := func(format bool) *Device {
		data, err := blockdev.OpenFile(path, blockdev.FileOptions{})
		require.NoError(t, err)
		jrnl, err := blockdev.OpenFile(path+"-untorn", blockdev.FileOptions{Create: true})
		require.NoError(t, err)
		opts := Options{Capacity: 1 << 20}
		var d *Device
		if format {
			d, err = Format(data, jrnl, opts)
		} else {
			d, err = Open(data, jrnl, opts)
		}
		require.NoError(t, err)
		return d
	}
	d := open(true)
	require.Equal(t, int64(len(want)), d.FileSize())
	buf := blockdev.AlignedBuffer(3*testBS, d.Limits().MemAlign)
	_, err := d.ReadAt(buf, 0)
	require.NoError(t, err)
	require.Equal(t, want, buf[:len(want)], "the file's bytes read through the journal")

	// Rewrite the second block and grow the file to 20000 bytes.
	page := bytes.Repeat([]byte{0xab}, testBS)
	copy(want[testBS:], page)
	want = append(want, make([]byte, 20000-len(want))...)
	copy(want[4*testBS:], page)
	require.NoError(t, d.CommitSized([]blockdev.Piece{{Off: testBS, Data: page}, {Off: 4 * testBS, Data: page}}, d.FileSize(), 20000, 0))
	require.NoError(t, d.Flush())
	require.NoError(t, d.Close())

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, got, "after Close the data file is the file, exactly")

	// The journal is empty: a new Open replays nothing and sees the file.
	d = open(false)
	require.Equal(t, int64(20000), d.FileSize())
	require.Zero(t, d.Stats().LogBytes)
	// A cut to 5000 bytes, then Close: the file is 5000 bytes long.
	require.NoError(t, d.CommitSized(nil, 5000, 5000, blockdev.FUA))
	require.NoError(t, d.Close())
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want[:5000], got)
}
