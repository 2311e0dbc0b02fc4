package journal

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// unitOf is one unit of n blocks at block b, filled with v, one piece per
// block.
func unitOf(b, n int64, v byte) []blockdev.Piece {
	var u []blockdev.Piece
	for k := range n {
		u = append(u, blockdev.Piece{Off: (b + k) * testBS, Data: bytes.Repeat([]byte{v}, testBS)})
	}
	return u
}

// TestInPlaceRule: CommitUnits writes a unit home in place exactly when
// the data device does it in hardware and no record holds an image of
// its blocks (nor a cut reaches it, nor does it lie past the durable
// size); everything else goes in a record. Flush flushes both devices,
// the journal only when a record was written.
func TestInPlaceRule(t *testing.T) {
	t.Parallel()
	opts := testOptions(64)
	opts.InPlace = true
	r := newRig(t, 64*testBS, opts)
	d := r.d
	defer d.Close()
	require.NoError(t, d.CommitSized(nil, 0, 64*testBS, blockdev.FUA)) // a file of 64 blocks
	base := d.Stats()

	commit := func(units ...[]blockdev.Piece) {
		t.Helper()
		require.NoError(t, d.CommitUnits(units, nil, d.FileSize(), 0))
	}
	// A 16 KiB unit, naturally aligned: home in place, no record.
	commit(unitOf(4, 4, 1))
	s := d.Stats()
	require.EqualValues(t, 1, s.InPlaceWrites-base.InPlaceWrites)
	require.EqualValues(t, 4*testBS, s.InPlaceBytes-base.InPlaceBytes)
	require.Equal(t, base.Records, s.Records)
	require.Positive(t, r.data.Volatile(), "written to the data device, not yet flushed")
	jflushes := s.Flushes
	require.NoError(t, d.Flush())
	require.Zero(t, r.data.Volatile(), "Flush flushes the data device")
	require.Equal(t, jflushes, d.Stats().Flushes, "and not the journal, which got nothing")

	// Not naturally aligned, or larger than the hardware's 16 KiB: a record.
	commit(unitOf(6, 4, 2))
	commit(unitOf(16, 8, 3))
	s = d.Stats()
	require.EqualValues(t, 1, s.InPlaceWrites-base.InPlaceWrites)
	require.EqualValues(t, base.Records+2, s.Records)

	// Blocks 6..9 have images in the journal: a unit over them goes there
	// too until a checkpoint took them home.
	commit(unitOf(8, 2, 4))
	require.EqualValues(t, 1, d.Stats().InPlaceWrites-base.InPlaceWrites)
	require.NoError(t, d.Checkpoint())
	commit(unitOf(8, 2, 5))
	require.EqualValues(t, 2, d.Stats().InPlaceWrites-base.InPlaceWrites)

	// A cut in the log reaches the unit: a record (a checkpoint would cut
	// it); so is a unit past the size of the durable log.
	require.NoError(t, d.CommitSized(nil, 40*testBS, 64*testBS, 0))
	commit(unitOf(44, 4, 6))
	require.EqualValues(t, 2, d.Stats().InPlaceWrites-base.InPlaceWrites)
	require.NoError(t, d.Checkpoint())
	require.NoError(t, d.CommitSized(nil, 32*testBS, 32*testBS, blockdev.FUA))
	require.NoError(t, d.Checkpoint())
	require.NoError(t, d.CommitUnits([][]blockdev.Piece{unitOf(32, 4, 7)}, nil, 36*testBS, 0))
	require.EqualValues(t, 2, d.Stats().InPlaceWrites-base.InPlaceWrites, "past the durable size")

	// Every unit reads back as committed, whichever way it went.
	require.NoError(t, d.Flush())
	img, err := readImage(d)
	require.NoError(t, err)
	for _, c := range []struct {
		block int64
		v     byte
	}{{4, 1}, {6, 2}, {7, 2}, {8, 5}, {9, 5}, {16, 3}, {23, 3}, {32, 7}, {35, 7}} {
		require.Equal(t, c.v, img.content[c.block*testBS], "block %d", c.block)
	}
	require.EqualValues(t, 36*testBS, img.size)
}

// TestInPlaceOff: without Options.InPlace, or over a data device without
// hardware atomic writes, CommitUnits logs everything.
func TestInPlaceOff(t *testing.T) {
	t.Parallel()
	for _, inPlace := range []bool{false, true} {
		opts := testOptions(64)
		opts.InPlace = inPlace
		data, err := blockdev.NewMem(64*testBS, blockdev.LimitsXFS) // software atomics only
		require.NoError(t, err)
		if !inPlace {
			data, err = blockdev.NewMem(64*testBS, blockdev.LimitsNVMe)
			require.NoError(t, err)
		}
		jrnl, err := blockdev.NewMem(hdrCopies*testBS+opts.Capacity, blockdev.LimitsNone)
		require.NoError(t, err)
		d, err := Format(data, jrnl, opts)
		require.NoError(t, err)
		require.NoError(t, d.CommitUnits([][]blockdev.Piece{unitOf(0, 4, 1)}, unitOf(8, 1, 2), 9*testBS, blockdev.FUA))
		s := d.Stats()
		require.Zero(t, s.InPlaceWrites)
		require.EqualValues(t, 5*testBS, s.RecordBytes)
		require.NoError(t, d.Close())
	}
}
