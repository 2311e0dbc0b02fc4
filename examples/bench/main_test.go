package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

const (
	testSize  = 1 << 20
	testCache = 1 << 20
)

// openTiny opens contender name on a tiny file in dir, skipping the test
// when it cannot run here. It checks on cleanup that the contender was
// closed and counted at least the bytes the test wrote.
func openTiny(t testing.TB, name, dir string, pageSize int, reads bool) (contender, *int64) {
	t.Helper()
	c, err := newContender(name)
	require.NoError(t, err)
	cfg := fileConfig{Dir: dir, Size: testSize, CacheSize: testCache, PageSize: pageSize,
		SyncEvery: 4, Writers: 4, NeedReads: reads}
	err = c.Open(cfg)
	if isNotApplicable(err) {
		t.Skipf("%s cannot run here: %v", name, err)
	}
	require.NoError(t, err)
	return c, new(int64)
}

// checkCounted is the invariant every contender keeps: after a Sync every
// distinct page it was given has reached the device at least once (a
// write-back cache may merge rewrites of a dirty page, so not every write).
func checkCounted(t testing.TB, c contender, distinct int64) {
	t.Helper()
	assert.GreaterOrEqual(t, c.BytesWritten(), distinct, "%s counts fewer device bytes than distinct pages written", c.Name())
}

// TestContendersReadBack writes pages with every contender (pending, synced,
// rewritten within an interval, more than a batch holds), reads them back,
// checks pages nobody wrote hold the fill pattern, and reopens.
func TestContendersReadBack(t *testing.T) {
	t.Parallel()
	for _, name := range contenderNames {
		for _, pageSize := range []int{4 << 10, 16 << 10} {
			t.Run(name+"/"+formatSize(int64(pageSize)), func(t *testing.T) {
				dir := t.TempDir()
				reads := !isWriteOnly(t, name)
				c, _ := openTiny(t, name, dir, pageSize, reads)
				pages := int64(testSize / pageSize)
				model := map[int64][]byte{}
				r := rand.New(rand.NewPCG(1, uint64(pageSize)))
				var user int64       // bytes of distinct pages written
				for i := range 300 { // more than any batch holds between Syncs
					off := r.Int64N(pages) * int64(pageSize)
					p := make([]byte, pageSize)
					for j := range p {
						p[j] = byte(r.Uint32())
					}
					require.NoError(t, c.Write(p, off))
					if _, ok := model[off]; !ok {
						user += int64(pageSize)
					}
					model[off] = bytes.Clone(p)
					clear(p) // the contender must have copied it
					if i%37 == 36 {
						require.NoError(t, c.Sync())
					}
				}
				if !reads {
					require.NoError(t, c.Sync())
					checkCounted(t, c, user)
					require.NoError(t, c.Close())
					// The bound opens in workloads with reads (they are
					// free, see writeOnly) but cannot serve one.
					c, err := newContenderOpen(name, dir, pageSize, true)
					require.NoError(t, err)
					require.ErrorIs(t, c.Read(make([]byte, pageSize), 0), errNotApplicable)
					require.NoError(t, c.Close())
					return
				}
				got := make([]byte, pageSize)
				verify := func(stage string) {
					for off := int64(0); off < pages*int64(pageSize); off += int64(pageSize) {
						require.NoError(t, c.Read(got, off), stage)
						want, ok := model[off]
						if !ok {
							want = make([]byte, pageSize)
							fillPattern(want, off)
						}
						require.True(t, bytes.Equal(want, got), "%s: %s page at %d", stage, name, off)
					}
				}
				verify("before Sync")
				require.NoError(t, c.Sync())
				checkCounted(t, c, user)
				verify("after Sync")
				require.NoError(t, c.Close())
				c, err := newContenderOpen(name, dir, pageSize, true)
				require.NoError(t, err)
				verify("after reopen")
				require.NoError(t, c.Close())
			})
		}
	}
}

func newContenderOpen(name, dir string, pageSize int, reads bool) (contender, error) {
	c, err := newContender(name)
	if err != nil {
		return nil, err
	}
	return c, c.Open(fileConfig{Dir: dir, Size: testSize, CacheSize: testCache, PageSize: pageSize,
		SyncEvery: 4, Writers: 4, NeedReads: reads})
}

// TestContendersModel drives each contender that reads with random writes,
// reads, Syncs and reopens against a map of the last write per page.
func TestContendersModel(t *testing.T) {
	t.Parallel()
	for _, name := range contenderNames {
		if isWriteOnly(t, name) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			c, _ := openTiny(t, name, dir, 4096, true) // skips when n/a; creates the files once
			t.Cleanup(func() { require.NoError(t, c.Close()) })
			rapid.Check(t, func(rt *rapid.T) {
				var err error
				const pages = 16 // a small range, so pages are rewritten and reread
				model := map[int64][]byte{}
				base := make([]byte, 4096)
				for off := int64(0); off < pages*4096; off += 4096 { // learn what earlier checks left
					require.NoError(rt, c.Read(base, off))
					model[off] = bytes.Clone(base)
				}
				got := make([]byte, 4096)
				rt.Repeat(map[string]func(*rapid.T){
					"write": func(rt *rapid.T) {
						off := rapid.Int64Range(0, pages-1).Draw(rt, "page") * 4096
						b := rapid.Byte().Draw(rt, "byte")
						p := bytes.Repeat([]byte{b}, 4096)
						require.NoError(rt, c.Write(p, off))
						model[off] = bytes.Clone(p)
					},
					"read": func(rt *rapid.T) {
						off := rapid.Int64Range(0, pages-1).Draw(rt, "page") * 4096
						require.NoError(rt, c.Read(got, off))
						require.Equal(rt, model[off], got, "page %d", off/4096)
					},
					"sync": func(rt *rapid.T) { require.NoError(rt, c.Sync()) },
					"reopen": func(rt *rapid.T) {
						require.NoError(rt, c.Close())
						c, err = newContenderOpen(name, dir, 4096, true)
						require.NoError(rt, err)
					},
				})
			})
		})
	}
}

// TestRunPrintsTable runs the whole command on a tiny configuration.
func TestRunPrintsTable(t *testing.T) {
	o := options{dir: t.TempDir(), size: 4 << 20, cache: 1 << 20, reps: 2, ops: 200, syncEvery: 16,
		writers: 4, workloads: "all", contenders: "all", seed: 7, age: 1}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), o, &out, io.Discard))
	s := out.String()
	t.Log("\n" + s)
	for _, w := range workloadNames {
		assert.Contains(t, s, "== "+w+":")
	}
	for _, c := range contenderNames {
		assert.Contains(t, s, c)
	}
	for _, want := range []string{"machine:", "us/page", "x auto", "sync p99", "read p99", "max RSS", "WA(kernel)"} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, "FAILED")
	assert.Contains(t, s, "aging:   new untorn COW containers were overwritten with 1x")
	assert.Contains(t, s, "untorn-cow time per page op:")
	assert.Contains(t, s, "ceiling: nothing torn-safe beats seq-append")
	assert.Contains(t, s, "vs buffered       at most")
	assert.Contains(t, s, "peak RSS grew")
	assert.Contains(t, s, "process CPU: user")
	assert.Contains(t, s, "seq-append (writes only)", "the bound runs the workloads with reads, reads free")
	assert.Contains(t, s, "each page written once, reads free")
	assert.NotContains(t, s, "n/a: write-only")
	assert.Contains(t, s, "disk/live")
	assert.Contains(t, s, "default Options")

	o.json, o.reps, o.workloads = true, 1, "write-4k"
	out.Reset()
	require.NoError(t, run(context.Background(), o, &out, io.Discard))
	var rep report
	require.NoError(t, json.Unmarshal(out.Bytes(), &map[string]any{}))
	require.NoError(t, json.NewDecoder(&out).Decode(&struct {
		Machine   *machine `json:"machine"`
		Workloads []struct {
			Rows []map[string]any `json:"rows"`
		} `json:"workloads"`
	}{Machine: &rep.Machine}))
	assert.NotEmpty(t, rep.Machine.Kernel)
}

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-size", "64MiB", "-cache", "8m", "-reps", "1"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, byteSize(64<<20), o.size)
	assert.Equal(t, byteSize(8<<20), o.cache)
	_, err = parseFlags([]string{"-size", "lots"}, io.Discard)
	require.Error(t, err)
	_, err = parseFlags([]string{"-reps", "0"}, io.Discard)
	require.ErrorIs(t, err, errBadFlag)
	for _, bad := range [][]string{{"-age", "-1"}, {"-age", "NaN"}, {"-cow-spare", "-5"}} {
		_, err = parseFlags(bad, io.Discard)
		require.ErrorIs(t, err, errBadFlag, "%q", bad)
	}
	o, err = parseFlags([]string{"-age", "0", "-cow-spare", "100"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 100, o.cowSpare)

	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	stop, err := startProfile(prof)
	require.NoError(t, err)
	require.NoError(t, stop())
	st, err := os.Stat(prof)
	require.NoError(t, err)
	assert.Positive(t, st.Size(), "a CPU profile was written")
	_, err = startProfile(filepath.Join(t.TempDir(), "no", "such", "dir"))
	require.Error(t, err)
	_, err = pick("write-4k,nope", workloadNames)
	require.ErrorIs(t, err, errBadFlag)
	for in, want := range map[string]int64{"4096": 4096, "1GiB": 1 << 30, "512K": 512 << 10, "3 MB": 3 << 20} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	assert.Equal(t, "256MiB", formatSize(256<<20))
}

func TestPlanAndPool(t *testing.T) {
	w, err := makeWorkload("mixed-fit", 8<<20, 2<<20, 1000, 10)
	require.NoError(t, err)
	a, b := w.plan(3), w.plan(3)
	require.Equal(t, a, b, "the same seed gives every contender the same operations")
	reads := 0
	for _, o := range a {
		require.Less(t, o.off, w.WorkingSet)
		require.Zero(t, o.off%int64(w.PageSize))
		if o.read {
			reads++
		}
	}
	assert.InDelta(t, 900, reads, 60)
	pool := makePool(4096, 1)
	p := bytes.Clone(pool.page(5))
	assert.True(t, pool.matches(p, 5))
	assert.False(t, pool.matches(p, 5+poolPages))
	assert.True(t, strings.Contains(w.Desc, "fits"))
}

// TestAgeRunsTheCleaner checks that -age leaves a new COW container in the
// state it is for: its cleaner has run, and every page still reads back what
// aging wrote last (the untorn contender is reopened between them).
//
// With default Options (no MaxSize) the container's geometry is sized for
// atomicio.DefaultMaxSize: 4 MiB segments and a reserve of some 36 MiB
// on top of the live data and its headroom, so the file must be large
// enough, and the headroom small enough (10%), for aging 3x to fill it.
func TestAgeRunsTheCleaner(t *testing.T) {
	dir := t.TempDir()
	const size, page = 16 << 20, 16 << 10
	u := newUntorn("untorn-cow", modeCOW)
	cfg := fileConfig{Dir: dir, Size: size, CacheSize: testCache, PageSize: page, SyncEvery: 4, Writers: 4, Age: 3, COWSpare: 10}
	require.NoError(t, u.Open(cfg))
	assert.Positive(t, u.agedCleaned, "aging 3x the size must make the container clean")
	assert.Equal(t, int64(size), u.f.Stats().COW.LiveBytes, "the fill and aging leave every page mapped")

	// The next run's writes find no free space to live off: they clean,
	// and the time breakdown shows it.
	buf := make([]byte, page)
	for i := range int64(size / page) {
		require.NoError(t, u.Write(buf, i*page))
		if i%16 == 15 {
			require.NoError(t, u.Sync())
		}
	}
	require.NoError(t, u.Sync())
	assert.Positive(t, u.f.Stats().COW.CleanedBlocks)
	assert.Positive(t, u.breakdown().Clean)
	require.NoError(t, u.Close())

	// Aging is done once, when the file is new.
	u.agedCleaned = 0
	require.NoError(t, u.Open(cfg))
	assert.Zero(t, u.agedCleaned, "a reopened file is not aged again")
	require.NoError(t, u.Close())

	// Age 0 leaves a new container that has not needed to clean.
	u0 := newUntorn("untorn-cow", modeCOW)
	cfg.Dir, cfg.Age = t.TempDir(), 0
	require.NoError(t, u0.Open(cfg))
	assert.Zero(t, u0.agedCleaned)
	assert.Zero(t, u0.breakdown().Clean)
	require.NoError(t, u0.Close())
}

// TestCeilingsWithoutAuto checks the ceiling lines name the untorn
// contender that ran when untorn-auto did not, and are left out without a
// bound or an untorn contender.
func TestCeilingsWithoutAuto(t *testing.T) {
	row := func(name string, usPerPage float64) summary {
		return summary{Contender: name, Runs: 1, USPerPage: fig(usPerPage)}
	}
	var out bytes.Buffer
	writeCeilings(&out, workloadReport{Rows: []summary{row("untorn-cow", 60), row("buffered", 45), row("seq-append", 30)}})
	s := out.String()
	assert.Contains(t, s, "untorn-cow is at 0.50x the bound")
	assert.Contains(t, s, "vs buffered       at most 1.50x faster is possible here; untorn-cow is 0.75x")
	assert.NotContains(t, s, "Inf")

	out.Reset()
	writeCeilings(&out, workloadReport{Rows: []summary{row("buffered", 45), row("seq-append", 30)}})
	assert.Empty(t, out.String())
	writeCeilings(&out, workloadReport{Rows: []summary{row("untorn-cow", 60), row("buffered", 45)}})
	assert.Empty(t, out.String())
}

// isWriteOnly reports whether the contender name is a writeOnly bound
// (seq-append, seq-append-new), which cannot read.
func isWriteOnly(t *testing.T, name string) bool {
	c, err := newContender(name)
	require.NoError(t, err)
	w, ok := c.(writeOnly)
	return ok && w.writeOnly()
}
