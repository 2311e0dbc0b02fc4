package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestDirectAtomicOnMem checks dio-atomic's batching and parallel untorn
// writes on a simulated device with RWF_ATOMIC (the real file system here
// may have none), and its refusal without it.
func TestDirectAtomicOnMem(t *testing.T) {
	const size, page = 1 << 20, 16 << 10
	cfg := fileConfig{Size: size, PageSize: page, SyncEvery: 4, Writers: 4, NeedReads: true}
	mem, err := blockdev.NewMem(size, blockdev.LimitsNVMe)
	require.NoError(t, err)
	d := &directAtomic{}
	require.NoError(t, d.attach(mem, cfg))
	model := map[int64][]byte{}
	for i := range 200 {
		off := int64(i*7%(size/page)) * page
		p := bytes.Repeat([]byte{byte(i)}, page)
		require.NoError(t, d.Write(p, off))
		model[off] = p
		if i%5 == 4 {
			require.NoError(t, d.Sync())
		}
	}
	got := make([]byte, page)
	for off, want := range model {
		require.NoError(t, d.Read(got, off))
		require.Equal(t, want, got, "page at %d", off)
	}
	require.NoError(t, d.Sync())
	st := mem.Stats()
	require.Equal(t, st.Writes, st.AtomicWrites, "every page went out untorn")
	require.Equal(t, d.BytesWritten(), st.BytesWritten)
	require.Zero(t, mem.Volatile(), "Sync flushed")
	require.NoError(t, d.Close())

	none, err := blockdev.NewMem(size, blockdev.LimitsNone)
	require.NoError(t, err)
	require.ErrorIs(t, (&directAtomic{}).attach(none, cfg), errNotApplicable)
	cfg.PageSize = 64 << 10 // above the NVMe profile's 16 KiB
	nvme, err := blockdev.NewMem(size, blockdev.LimitsNVMe)
	require.NoError(t, err)
	require.ErrorIs(t, (&directAtomic{}).attach(nvme, cfg), errNotApplicable)
}
