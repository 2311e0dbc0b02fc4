package cow

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestSalvage: a record in the middle of the log damaged beyond one bit
// (a whole block of garbage) fails Open with ErrCorrupt, without a write;
// with Options.Salvage, Open recovers the state before it (dropping the
// durable transactions after it, which is what salvage means) and works.
func TestSalvage(t *testing.T) {
	d, mem, model := durableLog(t, 5)
	bs := int64(d.Limits().BlockSize)
	img := mem.CrashClone(blockdev.CrashConfig{Survive: 1})
	b, _ := dataBlockOf(t, img, 3, 3, bs)
	junk := blockdev.AlignedBuffer(int(bs), 512)
	for i := range junk {
		junk[i] = byte(i*7 + 1)
	}
	_, err := img.WriteAt(junk, b*bs, blockdev.FUA)
	require.NoError(t, err)

	rec := &writeRecorder{}
	_, err = Open(blockdev.WithFaults(img, rec), Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	require.Empty(t, rec.ops, "Open of a corrupt device wrote to it")

	d2, err := Open(img, Options{Salvage: true})
	require.NoError(t, err)
	_, err = model.match(d2, 2, 2)
	require.NoError(t, err, "salvage keeps what precedes the damaged transaction")
	require.NoError(t, d2.Flush())
	d3, err := Open(img.CrashClone(blockdev.CrashConfig{}), Options{})
	require.NoError(t, err, "a salvaged device opens without Salvage")
	_, err = model.match(d3, 2, 2)
	require.NoError(t, err)
}
