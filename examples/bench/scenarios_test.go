package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
)

// TestCommittersPrintsTableAndTargets runs the committers workload on a
// tiny configuration.
func TestCommittersPrintsTableAndTargets(t *testing.T) {
	defer func(n int) { boundWrites = n }(boundWrites)
	boundWrites = 20
	o := options{dir: t.TempDir(), reps: 1, workloads: "committers", contenders: "untorn-auto,buffered",
		commitTime: 100 * time.Millisecond, committers: []int{1, 32}, seed: 1, size: 4 << 20, cache: 1 << 20}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), o, &out, io.Discard))
	s := out.String()
	t.Log("\n" + s)
	for _, want := range []string{"== committers:", "untorn-auto (journal)", "buffered", "commits/flush",
		"one commit's flush:", "one group commit's flush at G=32", "targets (untorn-auto):", "commits/s at G=32 >= 10x its G=1",
		"Sync p99 at G=32 <= 4x one commit's flush", "where G=32's time goes"} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, "FAILED")
	assert.NotContains(t, s, "== write-16k", "the page workloads run only when asked")
}

// TestPGPrintsTableAndTarget runs pg-checkpoint on a tiny configuration.
func TestPGPrintsTableAndTarget(t *testing.T) {
	o := options{dir: t.TempDir(), reps: 1, workloads: "pg-checkpoint", contenders: "untorn-cow,buffered-fpi,buffered",
		pgFiles: 2, pgMax: 1 << 20, pgWrites: 1 << 20, pgCheckpoint: 256 << 10, seed: 1, size: 4 << 20, cache: 4 << 20}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), o, &out, io.Discard))
	s := out.String()
	t.Log("\n" + s)
	for _, want := range []string{"== pg-checkpoint: 2 relation files", "untorn-cow", "buffered-fpi", "WAL syncs",
		"untorn-cow's containers per run", "peak RSS grew", "target: the best untorn mode (untorn-cow) >= 1.2x faster than buffered-fpi",
		"buffered without full-page images"} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, "FAILED")
}

// TestPGContendersWriteThePlan: every pg-checkpoint contender leaves each
// page the plan wrote holding its last write, and buffered-fpi images each
// page once per checkpoint interval.
func TestPGContendersWriteThePlan(t *testing.T) {
	rels := pgRelations(3, 1<<20)
	plan := pgPlan(rels, 1<<20, 5)
	const ckpt = 256 << 10
	// The model: the last write of each page, and the images per interval.
	last := map[[2]int]int{}
	images, since := int64(0), int64(0)
	imaged := map[[2]int]bool{}
	for i, w := range plan {
		for p := w.page; p < w.page+w.n; p++ {
			key := [2]int{w.rel, p}
			last[key] = i
			if !imaged[key] {
				imaged[key] = true
				images++
			}
		}
		if since += int64(w.n) * pgPage; since >= ckpt {
			since = 0
			clear(imaged)
		}
	}
	for _, name := range []string{"untorn-cow", "buffered-fpi", "buffered"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := newRelStore(name)
			require.NoError(t, err)
			res, err := runPGOnce(s, dir, rels, 8<<20, plan, ckpt)
			require.NoError(t, err)
			if name == "buffered-fpi" {
				assert.Equal(t, images*pgPage, res.WALBytes, "one image per page per checkpoint interval")
				assert.Positive(t, res.WALSyncs)
			} else {
				assert.Zero(t, res.WALBytes)
			}
			read := readRelations(t, name, dir, rels)
			for key, i := range last {
				want := makeAlignedPage(pgCombine * pgPage)
				want[0], want[1] = byte(i), byte(i>>8)
				w := plan[i]
				o := (key[1] - w.page) * pgPage
				got := read(key[0], int64(key[1])*pgPage)
				require.True(t, bytes.Equal(want[o:o+pgPage], got), "%s: relation %d page %d is not write %d", name, key[0], key[1], i)
			}
		})
	}
}

// readRelations returns a function that reads a page of a relation as a
// contender left it.
func readRelations(t *testing.T, name, dir string, rels []relation) func(rel int, off int64) []byte {
	t.Helper()
	if name == "buffered-fpi" || name == "buffered" {
		files := make([][]byte, len(rels))
		for i := range rels {
			b, err := os.ReadFile(filepath.Join(dir, "pg-kernel", fmt.Sprintf("rel-%02d", i)))
			require.NoError(t, err)
			files[i] = b
		}
		return func(rel int, off int64) []byte { return files[rel][off : off+pgPage] }
	}
	files := make([]*atomicio.File, len(rels))
	for i := range rels {
		f, err := atomicio.Open(filepath.Join(dir, "pg-"+name, fmt.Sprintf("rel-%02d", i)), atomicio.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = f.Close() })
		files[i] = f
	}
	return func(rel int, off int64) []byte {
		p := make([]byte, pgPage)
		_, err := files[rel].ReadAt(p, off)
		require.NoError(t, err)
		return p
	}
}

// TestPGPlanIsSkewedAndBounded: the plan's writes stay in their files,
// combine at most 16 pages, and favour some relations and pages.
func TestPGPlanIsSkewedAndBounded(t *testing.T) {
	rels := pgRelations(64, 256<<20)
	for _, r := range rels {
		require.GreaterOrEqual(t, r.Size, int64(16<<20)-pgPage)
		require.LessOrEqual(t, r.Size, int64(256<<20))
	}
	plan := pgPlan(rels, 64<<20, 1)
	perRel := map[int]int{}
	runs := 0
	for _, w := range plan {
		require.LessOrEqual(t, (w.page+w.n)*pgPage, int(rels[w.rel].Size))
		require.True(t, w.n >= 1 && w.n <= pgCombine)
		perRel[w.rel]++
		if w.n > 1 {
			runs++
		}
	}
	top := 0
	for _, n := range perRel {
		top = max(top, n)
	}
	assert.Greater(t, top, len(plan)/10, "the hottest relation takes a large share")
	assert.InDelta(t, 0.5, float64(runs)/float64(len(plan)), 0.1, "about half the writes combine pages")
}
