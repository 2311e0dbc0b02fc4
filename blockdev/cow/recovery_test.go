package cow

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// randomBatches commits n batches of 64 random 16 KiB pages to d, with a
// flush after each (FUA), stamping each page with its batch number.
func randomBatches(t testing.TB, d *Device, rng *rand.Rand, n int, buf []byte) {
	for i := range n {
		require.NoError(t, d.CommitBatch(randomPages(rng, d.Size(), 64, buf, i), blockdev.FUA))
	}
}

// randomPages returns up to n distinct random 16 KiB pages of a device of
// size bytes, their data taken from buf (n pages long) and stamped with
// (batch, index) in the first two bytes.
func randomPages(rng *rand.Rand, size int64, n int, buf []byte, batch int) []blockdev.Piece {
	const page = 16 << 10
	pages := size / page
	pieces := make([]blockdev.Piece, 0, n)
	seen := make(map[int64]bool, n)
	for j := range n {
		p := rng.Int64N(pages)
		if seen[p] {
			continue
		}
		seen[p] = true
		data := buf[j*page : (j+1)*page]
		data[0], data[1] = byte(batch), byte(j)
		pieces = append(pieces, blockdev.Piece{Off: p * page, Data: data})
	}
	return pieces
}

// fillLog writes random batches until the log since the last checkpoint
// is nearly a full checkpoint interval: the worst case for recovery.
func fillLog(t testing.TB, d *Device, rng *rand.Rand, buf []byte) {
	d.mu.Lock()
	require.NoError(t, d.checkpointLocked(false))
	every := d.ckptEvery * d.g.bs
	d.mu.Unlock()
	randomBatches(t, d, rng, int(every/(1<<20))-2, buf)
}

// TestRecoveryTime1GiB recovers a 1 GiB device (a sparse file) after heavy
// random writes with a full checkpoint interval of log to replay, in at
// most a second.
func TestRecoveryTime1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~130 MiB")
	}
	path := filepath.Join(t.TempDir(), "cow")
	d := formatFile(t, path, Options{LogicalSize: 1 << 30})
	rng := rand.New(rand.NewPCG(1, 2))
	buf := blockdev.AlignedBuffer(1<<20, 4096)
	randomBatches(t, d, rng, 64, buf)
	fillLog(t, d, rng, buf)
	want := d.Stats()
	sample := blockdev.AlignedBuffer(1<<20, 4096)
	_, err := d.ReadAt(sample, 512<<20)
	require.NoError(t, err)
	require.NoError(t, d.Close())

	f, err := blockdev.OpenFile(path, blockdev.FileOptions{})
	require.NoError(t, err)
	start := time.Now()
	d, err = Open(f, Options{})
	took := time.Since(start)
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, d.checkInvariants())
	got := blockdev.AlignedBuffer(1<<20, 4096)
	_, err = d.ReadAt(got, 512<<20)
	require.NoError(t, err)
	require.Equal(t, sample, got)
	require.Equal(t, want.LiveBytes, d.Stats().LiveBytes)
	t.Logf("recovered 1 GiB device with %d MiB of log in %v", d.ckptEvery*d.g.bs>>20, took)
	if !raceEnabled {
		require.Less(t, took, time.Second)
	}
}
