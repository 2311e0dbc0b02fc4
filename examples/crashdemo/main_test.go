package main

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/xfstest"
)

func small() config {
	return config{Crashes: 12, Pages: 32, Seed: 1, Survive: 0.5}
}

func TestPlainTearsUntornDoesNot(t *testing.T) {
	rows, err := run(small(), nil)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	plain, untorn := rows[0], rows[1]
	require.Equal(t, 12, plain.Crashes)
	require.Equal(t, 12*32, plain.Checked)
	require.Positive(t, plain.Torn, "seed 1 tears plain pages")
	require.Zero(t, untorn.Torn)
	require.Zero(t, untorn.Lost)
	require.Equal(t, 12*32, untorn.Checked)
}

func TestUntornCleanAcrossSeeds(t *testing.T) {
	for seed := uint64(2); seed < 4; seed++ {
		c := small()
		c.Seed, c.Crashes = seed, 6
		for _, survive := range []float64{0, 0.5, 1} {
			c.Survive = survive
			res, err := crashRun(c, true, nil)
			require.NoError(t, err)
			require.Zero(t, res.Torn, "seed %d survive %g", seed, survive)
			require.Zero(t, res.Lost, "seed %d survive %g", seed, survive)
		}
	}
}

// TestCheckPagesCatches makes sure the verifier is not blind: a page with
// one flipped byte is torn, an old version is lost.
func TestCheckPagesCatches(t *testing.T) {
	img := make([]byte, 3*pageSize)
	encodePage(img[0:pageSize], 0, 5)
	encodePage(img[pageSize:2*pageSize], 1, 7)
	img[pageSize+9000] ^= 1
	encodePage(img[2*pageSize:], 2, 3)
	torn, lost, err := checkPages(bytes.NewReader(img), []uint64{5, 7, 9}, []uint64{5, 7, 4}, make([]byte, pageSize))
	require.NoError(t, err)
	require.Equal(t, 1, torn)
	require.Equal(t, 1, lost)
}

func TestBadConfig(t *testing.T) {
	for _, c := range []config{{Crashes: 0, Pages: 8}, {Crashes: 1, Pages: 1}, {Crashes: 1, Pages: 8, Survive: 2}} {
		_, err := run(c, nil)
		require.ErrorIs(t, err, errBadConfig)
	}
}

func TestProgressQuietWhenFast(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, 3)
	p.step()
	p.finish()
	require.Empty(t, out.String())
}

// runDir runs the -dir mode in dir. File systems without untorn writes
// need the COW mode; where this build cannot open such a file it skips.
func runDir(t *testing.T, dir string) {
	c := small()
	c.Crashes, c.Dir = 2, dir
	rows, err := run(c, nil)
	if errors.Is(err, blockdev.ErrAtomicUnsupported) || errors.Is(err, atomicio.ErrNoUntornWrites) {
		t.Skipf("no untorn writes in %s and no COW mode in this build: %v", dir, err)
	}
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, c.Pages, rows[2].Checked)
	require.Zero(t, rows[2].Torn)
	require.Zero(t, rows[2].Lost)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "the data file is removed")
}

func TestDirTempDir(t *testing.T) { runDir(t, t.TempDir()) }

func TestDirXFS(t *testing.T) { runDir(t, xfstest.Mount(t)) }
