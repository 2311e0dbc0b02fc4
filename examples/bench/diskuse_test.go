package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
)

// TestSummarizeDisk checks the disk use medians, and that a contender that
// did not measure it (or did not in every run) gets none.
func TestSummarizeDisk(t *testing.T) {
	run := func(disk, live int64) runResult {
		return runResult{Elapsed: 1000, Writes: 1, DiskBytes: disk, LiveBytes: live}
	}
	s := summarize("untorn-cow", []runResult{run(150, 100), run(300, 100), run(160, 100)})
	assert.Equal(t, int64(160), s.DiskBytes)
	assert.Equal(t, int64(100), s.LiveBytes)
	assert.InDelta(t, 1.6, float64(s.DiskLive), 1e-9)
	j, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Contains(t, string(j), `"disk_bytes":160,"live_bytes":100,"disk_per_live":1.6`)

	for _, runs := range [][]runResult{{run(0, 0)}, {run(150, 100), run(0, 0)}, nil} {
		s = summarize("buffered", runs)
		assert.True(t, math.IsNaN(float64(s.DiskLive)), "%v", runs)
		assert.Zero(t, s.DiskBytes)
		j, err = json.Marshal(s)
		require.NoError(t, err)
		assert.Contains(t, string(j), `"disk_per_live":null`)
		assert.NotContains(t, string(j), `"disk_bytes"`)
	}
}

// TestTablePrintsDiskPerLive checks the disk/live column: the ratio for a
// contender that measured it, "-" for the others.
func TestTablePrintsDiskPerLive(t *testing.T) {
	nan := fig(math.NaN())
	rows := []summary{
		{Contender: "untorn-cow", Runs: 1, USPerPage: 40, VsAuto: nan, DiskLive: 1.523},
		{Contender: "buffered", Runs: 1, USPerPage: 20, VsAuto: nan, DiskLive: nan},
	}
	var out bytes.Buffer
	var r report
	r.writeTable(&out, workloadReport{Workload: workload{Name: "write-16k"}, Rows: rows})
	lines := strings.Split(out.String(), "\n")
	require.True(t, strings.HasSuffix(strings.TrimSpace(lines[1]), "max RSS  disk/live  x auto"), "the head %q", lines[1])
	cell := func(contender string) string { // the next to last cell: x auto is last
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 2 && f[0] == contender {
				return f[len(f)-2]
			}
		}
		return ""
	}
	assert.Equal(t, "1.52x", cell("untorn-cow"))
	assert.Equal(t, "-", cell("buffered"))
}

// TestUntornDiskUse runs untorn-cow and buffered once: untorn reports its
// data file's disk use and live data, buffered (no diskUser) nothing.
func TestUntornDiskUse(t *testing.T) {
	const size = 4 << 20
	w, err := makeWorkload("write-16k", size, testCache, 200, 16)
	require.NoError(t, err)
	cfg := fileConfig{Dir: t.TempDir(), Size: size, CacheSize: testCache, PageSize: w.PageSize, SyncEvery: w.SyncEvery, Writers: 4}
	for _, name := range []string{"untorn-cow", "buffered"} {
		c, err := newContender(name)
		require.NoError(t, err)
		res, err := runOnce(c, cfg, w, w.plan(1), makePool(w.PageSize, 1), 1)
		require.NoError(t, err)
		if name == "buffered" {
			assert.Zero(t, res.DiskBytes)
			assert.Zero(t, res.LiveBytes)
			continue
		}
		t.Logf("%s: disk %d bytes, live %d bytes", name, res.DiskBytes, res.LiveBytes)
		assert.Equal(t, int64(size), res.LiveBytes, "the fill made all of -size live")
		assert.GreaterOrEqual(t, res.DiskBytes, res.LiveBytes, "a COW container holds all its live data on disk")
		assert.Less(t, res.DiskBytes, int64(4*size), "and a bounded headroom, not its sparse capacity")
	}
}

// TestUntornDefaultOptions checks new untorn files are made with the
// Options a new user would write (no Preallocate, no MaxSize), -cow-spare
// passed through, and that the header says so.
func TestUntornDefaultOptions(t *testing.T) {
	cfg := fileConfig{Size: 64 << 20, CacheSize: 8 << 20, COWSpare: 50}
	assert.Equal(t, atomicio.Options{Size: 64 << 20, CacheSize: 8 << 20, Mode: modeCOW, COWSparePercent: 50}, createOptions(cfg, modeCOW))
	cfg.COWSpare = 0
	assert.Equal(t, atomicio.Options{Size: 64 << 20, CacheSize: 8 << 20, Mode: modeNative}, createOptions(cfg, modeNative))

	var out bytes.Buffer
	r := report{Config: config{COWSpare: 50}}
	r.writeHeader(&out, true)
	assert.Contains(t, out.String(), "untorn:  new files are made with default Options")
	assert.Contains(t, out.String(), "COW cleaning headroom 50%")
	assert.NotContains(t, out.String(), "with Preallocate")
}

// TestCheckSpace checks the free space check counts each contender's data
// file with its headroom and a COW container's fixed reserve.
func TestCheckSpace(t *testing.T) {
	dir := t.TempDir()
	free, err := freeBytes(dir)
	require.NoError(t, err)
	require.NoError(t, checkSpace(dir, 1<<20, 1, 0))
	require.ErrorIs(t, checkSpace(dir, free, 1, 0), errNoSpace, "a file as large as the free space, with headroom, does not fit")
	if free > 1<<40 {
		t.Skip("too much free space to count the reserve against it")
	}
	n := int(free/cowReserve) + 1
	require.ErrorIs(t, checkSpace(dir, 4096, n, 1), errNoSpace, "%d tiny containers still take their reserves", n)
}
