//go:build linux

package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestOverlay: writes land in memory only: reads see them (whole blocks
// laid over the inner device's), the inner device sees no write or
// flush, and misaligned or out-of-range accesses are refused as by any
// Device.
func TestOverlay(t *testing.T) {
	mem, err := blockdev.NewMem(64<<10, blockdev.LimitsNone)
	require.NoError(t, err)
	base := bytes.Repeat([]byte{7}, 64<<10)
	buf := blockdev.AlignedBuffer(64<<10, mem.Limits().MemAlign)
	copy(buf, base)
	_, err = mem.WriteAt(buf, 0, 0)
	require.NoError(t, err)
	require.NoError(t, mem.Flush())
	writes := mem.Stats().Writes

	o := newOverlay(mem)
	w := blockdev.AlignedBuffer(8192, mem.Limits().MemAlign)
	for i := range w {
		w[i] = byte(i)
	}
	_, err = o.WriteAt(w, 4096, blockdev.FUA)
	require.NoError(t, err)
	require.NoError(t, o.Flush())
	require.Equal(t, int64(8192), o.Written())

	got := blockdev.AlignedBuffer(16384, mem.Limits().MemAlign)
	_, err = o.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, base[:4096], got[:4096])
	require.Equal(t, w, got[4096:12288])
	require.Equal(t, base[:4096], got[12288:])

	_, err = mem.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, base[:16384], got, "the inner device is unchanged")
	require.Equal(t, writes, mem.Stats().Writes)

	_, err = o.WriteAt(w[:100], 0, 0)
	require.ErrorIs(t, err, blockdev.ErrMisaligned)
	// Past inner's end it reads zeros (a container's file may be shorter
	// than its layout); past overlaySize it is out of range.
	past := make([]byte, 4096)
	_, err = o.ReadAt(past, 1<<30)
	require.NoError(t, err)
	require.True(t, bytes.Equal(make([]byte, len(past)), past), "zeros past inner's end")
	_, err = o.ReadAt(got, overlaySize)
	require.ErrorIs(t, err, blockdev.ErrOutOfRange)
	require.NoError(t, o.Close())
	_, err = mem.ReadAt(got, 0)
	require.ErrorIs(t, err, blockdev.ErrClosed, "Close closes the inner device")
}
