package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// memContender keeps pages in memory and counts the calls it gets; with
// onlyWrites it is a writeOnly contender whose Read fails.
type memContender struct {
	onlyWrites bool
	pages      map[int64][]byte
	reads      int
	written    int64
}

var errReadCalled = errors.New("Read called on a write-only contender")

func (m *memContender) Name() string          { return "mem" }
func (m *memContender) Open(fileConfig) error { m.pages = map[int64][]byte{}; return nil }
func (m *memContender) Write(p []byte, off int64) error {
	m.pages[off] = bytes.Clone(p)
	m.written += int64(len(p))
	return nil
}

func (m *memContender) Read(p []byte, off int64) error {
	m.reads++
	if m.onlyWrites {
		return errReadCalled
	}
	if b, ok := m.pages[off]; ok {
		copy(p, b)
	}
	return nil
}
func (m *memContender) Sync() error         { return nil }
func (m *memContender) Close() error        { return nil }
func (m *memContender) BytesWritten() int64 { return m.written }
func (m *memContender) writeOnly() bool     { return m.onlyWrites }

// TestWriteOnlyReadsAreFree checks runOnce never reads from a writeOnly
// contender (no warm-up, no reads, no read-back check) and counts its
// reads as page ops that took no time, while a contender that reads gets
// every read.
func TestWriteOnlyReadsAreFree(t *testing.T) {
	w, err := makeWorkload("ycsb-a", 4<<20, 1<<20, 400, 8)
	require.NoError(t, err)
	ops := w.plan(1)
	reads := 0
	for _, o := range ops {
		if o.read {
			reads++
		}
	}
	require.Positive(t, reads)
	pool := makePool(w.PageSize, 1)
	cfg := fileConfig{Size: 4 << 20, PageSize: w.PageSize, SyncEvery: w.SyncEvery, NeedReads: true}

	wo := &memContender{onlyWrites: true}
	res, err := runOnce(wo, cfg, w, ops, pool, 1)
	require.NoError(t, err)
	assert.Zero(t, wo.reads, "runOnce must not call Read on a write-only contender")
	assert.True(t, res.FreeReads)
	assert.Equal(t, reads, res.Reads, "its reads are counted as page ops")
	assert.Equal(t, len(ops)-reads, res.Writes)
	assert.Empty(t, res.ReadLat, "and take no time")
	assert.Equal(t, int64(reads*w.PageSize), res.UserBytesRead)
	s := summarize("seq-append", []runResult{res})
	assert.True(t, s.FreeReads)
	assert.Equal(t, reads, s.ReadsCount)
	assert.InDelta(t, us(res.Elapsed)/float64(len(ops)), float64(s.USPerPage), 1e-9, "us/page is over all page ops, reads included")

	rd := &memContender{}
	res, err = runOnce(rd, cfg, w, ops, pool, 1)
	require.NoError(t, err)
	assert.False(t, res.FreeReads)
	assert.Equal(t, reads+int(w.Warm/int64(w.PageSize)), rd.reads, "a contender that reads is warmed up and read from")
	assert.Len(t, res.ReadLat, reads)
}

// TestSeqAppendRunsReadWorkloads runs the real bound over a workload with
// reads: it opens (it used to refuse), and runOnce does not read from it
// (its Read fails).
func TestSeqAppendRunsReadWorkloads(t *testing.T) {
	var c contender = &seqAppend{}
	_, ok := c.(writeOnly)
	require.True(t, ok, "seq-append is a writeOnly contender")
	w, err := makeWorkload("ycsb-a", testSize, testCache, 300, 16)
	require.NoError(t, err)
	cfg := fileConfig{Dir: t.TempDir(), Size: testSize, CacheSize: testCache, PageSize: w.PageSize, SyncEvery: w.SyncEvery, NeedReads: true}
	res, err := runOnce(c, cfg, w, w.plan(1), makePool(w.PageSize, 1), 1)
	require.NoError(t, err)
	assert.True(t, res.FreeReads)
	assert.Positive(t, res.Reads)
	assert.Positive(t, res.DeviceBytes)
	require.ErrorIs(t, c.Read(make([]byte, w.PageSize), 0), errNotApplicable, "it cannot read: the runner must not ask")
}

// TestSeqAppendMergesPendingRewrites checks the bound writes a page
// rewritten before it was appended once, as the torn-safe contenders'
// caches do, and every distinct page.
func TestSeqAppendMergesPendingRewrites(t *testing.T) {
	s := &seqAppend{}
	require.NoError(t, s.Open(fileConfig{Dir: t.TempDir(), Size: testSize, PageSize: 4096}))
	defer func() { require.NoError(t, s.Close()) }()
	p := make([]byte, 4096)
	for i := range 10 {
		p[0] = byte(i)
		require.NoError(t, s.Write(p, 8192))
	}
	require.NoError(t, s.Sync())
	assert.Equal(t, int64(4096), s.BytesWritten(), "ten rewrites of one page before a Sync append it once")
	got := blockdev.AlignedBuffer(4096, max(s.dev.Limits().MemAlign, 4096))
	_, err := s.dev.ReadAt(got, 0)
	require.NoError(t, err)
	assert.Equal(t, byte(9), got[0], "the last version is the one appended")

	require.NoError(t, s.Write(p, 8192)) // after the Sync it is a new version
	for i := range int64(5) {
		require.NoError(t, s.Write(p, i*4096))
	}
	require.NoError(t, s.Sync())
	assert.Equal(t, int64(6*4096), s.BytesWritten(), "the five distinct pages of the second interval are all written, 8192 once")
}

// TestCeilingWithReads checks the ceiling line prints for a workload with
// reads and says the bound's reads are free, the table marks the bound
// "writes only", and the legend explains it.
func TestCeilingWithReads(t *testing.T) {
	row := func(name string, usPerPage float64) summary {
		return summary{Contender: name, Runs: 1, USPerPage: fig(usPerPage), VsAuto: fig(1), DiskLive: fig(1)}
	}
	bound := row("seq-append", 10)
	bound.FreeReads = true
	wr := workloadReport{Workload: workload{Name: "ycsb-a", ReadPct: 50}, Rows: []summary{row("untorn-cow", 40), row("buffered", 20), bound}}
	var out bytes.Buffer
	var r report
	r.writeTable(&out, wr)
	s := out.String()
	assert.Contains(t, s, "seq-append (writes only)")
	assert.Contains(t, s, "ceiling: nothing torn-safe beats seq-append (10.0 us/page, each page written once, reads free); untorn-cow is at 0.25x the bound.")
	assert.Contains(t, s, "vs buffered       at most 2.00x faster is possible here; untorn-cow is 0.50x")

	out.Reset()
	wr.Workload = workload{Name: "mixed-4x", ReadPct: 90}
	r.writeTable(&out, wr)
	assert.Contains(t, out.String(), "ceiling: nothing torn-safe beats seq-append", "the mixed workloads get the ceiling too")

	out.Reset()
	wr.Workload = workload{Name: "write-16k"}
	r.writeTable(&out, wr)
	assert.NotContains(t, out.String(), "writes only", "a write workload has no reads to skip")
	assert.NotContains(t, out.String(), "reads free")

	out.Reset()
	r.writeLegend(&out)
	assert.Contains(t, strings.Join(strings.Fields(out.String()), " "), "for workloads with reads, seq-append's reads are free (it appends the writes only")
}

// TestSeqAppendNew checks the first-pass bound: each run appends to a new
// file whose blocks were never written (nothing allocated before the run:
// it starts as a hole), which it removes at Close; and the ceiling line
// reports it next to the bound.
func TestSeqAppendNew(t *testing.T) {
	c, err := newContender("seq-append-new")
	require.NoError(t, err)
	require.Equal(t, "seq-append-new", c.Name())
	w, err := makeWorkload("write-16k", testSize, testCache, 64, 16)
	require.NoError(t, err)
	dir := t.TempDir()
	cfg := fileConfig{Dir: dir, Size: testSize, CacheSize: testCache, PageSize: w.PageSize, SyncEvery: w.SyncEvery}
	require.NoError(t, c.Open(cfg))
	s := c.(*seqAppend)
	allocated, ok := blockdev.AllocatedBytes(s.dev)
	require.True(t, ok)
	assert.Zero(t, allocated, "a new file: every append goes to unallocated blocks")
	require.NoError(t, c.Close())
	_, err = os.Stat(cfg.path("seq-append-new", ".log"))
	require.ErrorIs(t, err, fs.ErrNotExist, "Close removes the fresh file")
	res, err := runOnce(c, cfg, w, w.plan(1), makePool(w.PageSize, 1), 1)
	require.NoError(t, err)
	assert.Positive(t, res.DeviceBytes)
	assert.LessOrEqual(t, res.DeviceBytes, int64(64*w.PageSize))

	row := func(name string, usPerPage float64) summary {
		return summary{Contender: name, Runs: 1, USPerPage: fig(usPerPage), VsAuto: fig(1), DiskLive: fig(1)}
	}
	wr := workloadReport{Workload: workload{Name: "write-16k"},
		Rows: []summary{row("untorn-cow", 20), row("seq-append", 10), row("seq-append-new", 15)}}
	var out bytes.Buffer
	var r report
	r.writeTable(&out, wr)
	assert.Contains(t, out.String(), "first pass: the same appends into new blocks (seq-append-new) take 15.0 us/page, 1.50x the bound's time")
	assert.Contains(t, out.String(), "untorn-cow is at 0.75x of it")
	assert.NotContains(t, out.String(), "vs seq-append-new", "the first-pass bound is no contender to beat")
}
