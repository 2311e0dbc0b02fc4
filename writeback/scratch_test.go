package writeback

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/pagecache"
)

// TestNativeUnitBuffersComeFromTheScratch: native units that are not in
// one folio are assembled in buffers of the Scratch, never more than its
// size at once: with room for one unit, a Sync of many such units runs a
// pass per unit (the others deferred) and writes them all. A unit larger
// than the Scratch is refused up front.
func TestNativeUnitBuffersComeFromTheScratch(t *testing.T) {
	mem, err := blockdev.NewMem(4<<20, blockdev.LimitsXFS)
	require.NoError(t, err)
	scratch, err := pagecache.NewScratch(16<<10, true)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, scratch.Close()) })
	e := startEngine(t, Config{Device: mem, Scratch: scratch}, 1<<20)
	require.Equal(t, int64(16<<10), e.MaxUnit())
	ctx := context.Background()

	const units = 8
	p := make([]byte, 4096)
	for i := range units {
		for j := range p {
			p[j] = byte(i + 1)
		}
		// [6K, 10K) of each 64 KiB: the unit [0, 16K) around it has two
		// pages that only the device holds.
		require.NoError(t, e.Write(ctx, p, int64(i)<<16+6<<10, true))
	}
	whole := make([]byte, 16<<10)
	require.NoError(t, e.Write(ctx, whole, 1<<20, true)) // one folio: needs no buffer
	require.ErrorIs(t, e.Write(ctx, p, 2<<20-2048, true), ErrTooLarge, "a 2 MiB unit is larger than the scratch")

	before := e.Stats()
	require.NoError(t, e.Sync())
	st := e.Stats()
	require.Equal(t, int64(units), st.Passes-before.Passes, "one unit buffer per pass")
	require.Equal(t, int64(units*(units-1)/2), st.DeferredGroups-before.DeferredGroups)
	require.Equal(t, int64(units+1), st.NativeAtomic-before.NativeAtomic)
	require.Equal(t, int64(1), st.ZeroCopyUnits-before.ZeroCopyUnits)
	require.Equal(t, pagecache.ScratchStats{Size: 16 << 10, InUse: 0, Peak: 16 << 10}, scratch.Stats())
	require.Zero(t, e.cache.DirtyBytes())

	img := mem.CrashClone(blockdev.CrashConfig{Survive: 0})
	got := blockdev.AlignedBuffer(4096, 4096)
	for i := range units {
		_, err := img.ReadAt(got, int64(i)<<16+8<<10)
		require.NoError(t, err)
		require.Equal(t, byte(i+1), got[2047])
		require.Equal(t, byte(0), got[2048])
	}
}
