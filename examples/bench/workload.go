package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/untorn/untorn/blockdev"
)

// workload is one access pattern, the same for every contender.
type workload struct {
	Name       string `json:"name"`
	Desc       string `json:"description"`
	PageSize   int    `json:"page_size"`
	ReadPct    int    `json:"read_percent"`
	WorkingSet int64  `json:"working_set"`     // pages are drawn from [0, WorkingSet)
	Dist       string `json:"distribution"`    // of the pages: distUniform or distZipf (ranks scattered, see zipf.go)
	Ops        int    `json:"ops"`             // page reads plus page writes per run
	SyncEvery  int    `json:"sync_every"`      // writes between Syncs
	Warm       int64  `json:"warm_bytes"`      // bytes read (untimed) before a run
	WarmSeq    bool   `json:"warm_sequential"` // read them in file order, not shuffled
}

// warmOrder lists the offsets of the pages the untimed warm-up reads, Warm
// bytes of them, in the order it reads them. Uniform workloads warm
// [0, Warm): shuffled (like the workload's own accesses), or in file order
// with WarmSeq (which lets readahead build large folios). Zipf workloads
// warm their hottest pages, hottest first, or in file order with WarmSeq:
// what the cache of a store that has run for a while holds.
func (w workload) warmOrder(seed uint64) []int64 {
	pages := int(w.Warm / int64(w.PageSize))
	offs := make([]int64, pages)
	if w.Dist == distZipf {
		for i, p := range scatter(w.WorkingSet / int64(w.PageSize))[:pages] {
			offs[i] = p * int64(w.PageSize)
		}
		if w.WarmSeq {
			slices.Sort(offs)
		}
		return offs
	}
	for i := range offs {
		offs[i] = int64(i) * int64(w.PageSize)
	}
	if !w.WarmSeq {
		r := rand.New(rand.NewPCG(seed, 0x7761726d)) // "warm"
		r.Shuffle(len(offs), func(i, j int) { offs[i], offs[j] = offs[j], offs[i] })
	}
	return offs
}

// workloadNames lists every workload in report order.
var workloadNames = []string{"write-16k", "write-4k", "mixed-fit", "mixed-4x", "zipf-16k", "ycsb-a"}

// makeWorkload builds a workload by name for a data file of size bytes and
// a cache of cache bytes.
func makeWorkload(name string, size, cache int64, ops, syncEvery int) (workload, error) {
	const p16, p4 = 16 << 10, 4 << 10
	floor := func(v int64, p int) int64 { return max(v/int64(p)*int64(p), int64(p)) }
	w := workload{Name: name, Ops: ops, SyncEvery: syncEvery, Dist: distUniform}
	switch name {
	case "write-16k", "write-4k":
		w.PageSize = p16
		if name == "write-4k" {
			w.PageSize = p4
		}
		w.WorkingSet = floor(size, w.PageSize)
		w.Desc = fmt.Sprintf("random %s page overwrites over %s, Sync every %d pages",
			formatSize(int64(w.PageSize)), formatSize(w.WorkingSet), syncEvery)
	case "mixed-fit":
		w.PageSize, w.ReadPct = p16, 90
		w.WorkingSet = floor(min(cache/2, size), p16)
		w.Warm = w.WorkingSet
		w.Desc = fmt.Sprintf("90%% reads / 10%% writes of %s pages, working set %s (fits the %s cache), Sync every %d writes",
			formatSize(p16), formatSize(w.WorkingSet), formatSize(cache), syncEvery)
	case "mixed-4x":
		w.PageSize, w.ReadPct = p16, 90
		w.WorkingSet = floor(min(4*cache, size), p16)
		w.Warm = min(cache, w.WorkingSet)
		w.Desc = fmt.Sprintf("90%% reads / 10%% writes of %s pages, working set %s (%.2gx the %s cache), Sync every %d writes",
			formatSize(p16), formatSize(w.WorkingSet), float64(w.WorkingSet)/float64(cache), formatSize(cache), syncEvery)
		if w.WorkingSet < 4*cache {
			w.Desc += "; -size is too small for 4x"
		}
	case "zipf-16k":
		w.PageSize, w.Dist = p16, distZipf
		w.WorkingSet = floor(size, p16)
		w.Desc = fmt.Sprintf("random %s page overwrites over %s, pages drawn by Zipf (s=%.1f, hot pages scattered over the file), Sync every %d pages",
			formatSize(p16), formatSize(w.WorkingSet), zipfS, syncEvery)
	case "ycsb-a":
		w.PageSize, w.ReadPct, w.Dist = p16, 50, distZipf
		w.WorkingSet = floor(size, p16)
		w.Warm = min(floor(cache, p16), w.WorkingSet)
		w.Desc = fmt.Sprintf("YCSB-A-like: 50%% reads / 50%% updates of %s pages, Zipf (s=%.1f) keys scattered over %s, Sync every %d writes; "+
			"the untimed warm-up reads the hottest %s (the cache budget), as a long-running store's cache holds them",
			formatSize(p16), zipfS, formatSize(w.WorkingSet), syncEvery, formatSize(w.Warm))
	default:
		return w, fmt.Errorf("%w: unknown workload %q (want %v or all)", errBadFlag, name, workloadNames)
	}
	if ops <= 0 || syncEvery <= 0 || size < int64(w.PageSize) {
		return w, fmt.Errorf("%w: -ops, -sync-every and -size must be positive (size at least one page)", errBadFlag)
	}
	return w, nil
}

// op is one page access.
type op struct {
	off  int64
	read bool
}

// plan draws the operations of one repetition from seed, the same for
// every contender: pages uniformly or by Zipf rank (the ranks' pages are
// the same in every repetition, see scatter), each a read with
// probability ReadPct%.
func (w workload) plan(seed uint64) []op {
	r := rand.New(rand.NewPCG(seed, uint64(w.PageSize)<<8|uint64(w.ReadPct)))
	pages := w.WorkingSet / int64(w.PageSize)
	page := func() int64 { return r.Int64N(pages) }
	if w.Dist == distZipf {
		page = newZipfPages(r, pages).next
	}
	ops := make([]op, w.Ops)
	for i := range ops {
		ops[i] = op{off: page() * int64(w.PageSize), read: r.IntN(100) < w.ReadPct}
	}
	return ops
}

// poolPages is how many distinct random pages a run cycles through; each
// write also stamps its sequence number into the first 8 bytes, so every
// write's content is unique.
const poolPages = 64

// pagePool is random page content prepared outside the timed section.
type pagePool [][]byte

func makePool(pageSize int, seed uint64) pagePool {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	r := rand.NewChaCha8(key)
	pool := make(pagePool, poolPages)
	for i := range pool {
		pool[i] = make([]byte, pageSize)
		_, _ = r.Read(pool[i])
	}
	return pool
}

// page returns write seq's content: its pool page stamped with seq.
func (p pagePool) page(seq uint64) []byte {
	b := p[seq%poolPages]
	binary.LittleEndian.PutUint64(b, seq)
	return b
}

// matches reports whether b is write seq's content.
func (p pagePool) matches(b []byte, seq uint64) bool {
	return binary.LittleEndian.Uint64(b) == seq && bytes.Equal(b[8:], p[seq%poolPages][8:])
}

// runResult is what one run of one contender measured.
type runResult struct {
	Elapsed          time.Duration // time spent inside Write, Read, Sync and Close
	CloseTime        time.Duration // of it, in Close
	Reads, Writes    int
	UserBytesRead    int64
	UserBytesWritten int64
	DeviceBytes      int64 // BytesWritten during the timed part
	KernelBytes      int64 // /proc/self/io write_bytes during it; -1 unknown
	WriteLat         []time.Duration
	SyncLat          []time.Duration
	ReadLat          []time.Duration
	MaxRSS           int64 // VmHWM at the end of the timed part
	BaseRSS          int64 // VmRSS just before Open
	PeakReset        bool  // VmHWM was reset before Open
	Mode             string
	Breakdown        timeBreakdown // where an untorn contender's time went; zero for others
	FreeReads        bool          // a writeOnly contender: reads were counted (as free page ops), not executed
	DiskBytes        int64         // disk the data file and its side files occupy after the last Sync (diskUser contenders; 0 for others)
	LiveBytes        int64         // the data file's live data (its logical size) then
	ApparentBytes    int64         // its apparent size (st_size) then
}

// describer is a contender that can say more about how it runs (the mode
// untorn-auto resolved to).
type describer interface{ describe() string }

// runOnce opens c, warms it up, runs ops and closes it. Every read of a
// page written earlier in the run is checked against what was written. A
// writeOnly contender is neither warmed up nor read from: its reads are
// counted as page ops that took no time. After the last Sync a diskUser
// contender's disk use is measured; then Close is timed with the rest (a
// journal's last checkpoint, say, is part of what the workload cost).
func runOnce(c contender, cfg fileConfig, w workload, ops []op, pool pagePool, seq0 uint64) (res runResult, err error) {
	res.PeakReset = resetPeakRSS()
	res.BaseRSS = procStatusKB("VmRSS")
	if err := c.Open(cfg); err != nil {
		return res, err
	}
	closed := false
	defer func() {
		if closed {
			return
		}
		if cerr := c.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: close: %w", c.Name(), cerr)
		}
	}()
	if d, ok := c.(describer); ok {
		res.Mode = d.describe()
	}
	if wo, ok := c.(writeOnly); ok {
		res.FreeReads = wo.writeOnly()
	}
	rbuf := blockdev.AlignedBuffer(w.PageSize, 4096)
	var warm []int64
	if !res.FreeReads {
		warm = w.warmOrder(seq0)
	}
	for _, off := range warm {
		if err := c.Read(rbuf, off); err != nil {
			return res, fmt.Errorf("%s: warm-up read at %d: %w", c.Name(), off, err)
		}
	}
	base, kbase := c.BytesWritten(), kernelWriteBytes()
	bd, hasBreakdown := c.(breakdowner)
	var b0 timeBreakdown
	if hasBreakdown {
		b0 = bd.breakdown()
	}
	res.WriteLat = make([]time.Duration, 0, len(ops))
	res.ReadLat = make([]time.Duration, 0, len(ops))
	res.SyncLat = make([]time.Duration, 0, len(ops)/w.SyncEvery+1)
	last := make(map[int64]uint64, len(ops))
	var seq uint64
	syncNow := func() error {
		t0 := time.Now()
		err := c.Sync()
		d := time.Since(t0)
		res.SyncLat = append(res.SyncLat, d)
		res.Elapsed += d
		if err != nil {
			return fmt.Errorf("%s: sync: %w", c.Name(), err)
		}
		return nil
	}
	for _, o := range ops {
		if o.read && res.FreeReads {
			res.Reads++
			res.UserBytesRead += int64(w.PageSize)
			continue
		}
		if o.read {
			t0 := time.Now()
			err := c.Read(rbuf, o.off)
			d := time.Since(t0)
			res.ReadLat, res.Elapsed = append(res.ReadLat, d), res.Elapsed+d
			if err != nil {
				return res, fmt.Errorf("%s: read at %d: %w", c.Name(), o.off, err)
			}
			if s, ok := last[o.off]; ok && !pool.matches(rbuf, s) {
				return res, fmt.Errorf("%w: %s: page at %d is not write #%d", errMismatch, c.Name(), o.off, s)
			}
			res.Reads++
			res.UserBytesRead += int64(w.PageSize)
			continue
		}
		seq++
		p := pool.page(seq)
		t0 := time.Now()
		err := c.Write(p, o.off)
		d := time.Since(t0)
		res.WriteLat, res.Elapsed = append(res.WriteLat, d), res.Elapsed+d
		if err != nil {
			return res, fmt.Errorf("%s: write at %d: %w", c.Name(), o.off, err)
		}
		last[o.off] = seq
		res.Writes++
		res.UserBytesWritten += int64(w.PageSize)
		if res.Writes%w.SyncEvery == 0 {
			if err := syncNow(); err != nil {
				return res, err
			}
		}
	}
	if res.Writes%w.SyncEvery != 0 {
		if err := syncNow(); err != nil {
			return res, err
		}
	}
	res.DeviceBytes = c.BytesWritten() - base
	if hasBreakdown {
		res.Breakdown = bd.breakdown().minus(b0)
	}
	res.KernelBytes = -1
	if k := kernelWriteBytes(); kbase >= 0 && k >= 0 {
		res.KernelBytes = k - kbase
	}
	res.MaxRSS = peakRSS()
	if du, ok := c.(diskUser); ok {
		if res.DiskBytes, res.LiveBytes, res.ApparentBytes, err = du.diskUse(); err != nil {
			return res, fmt.Errorf("%s: disk use: %w", c.Name(), err)
		}
	}
	closed = true
	t0 := time.Now()
	err = c.Close()
	res.CloseTime = time.Since(t0)
	res.Elapsed += res.CloseTime
	if err != nil {
		return res, fmt.Errorf("%s: close: %w", c.Name(), err)
	}
	return res, nil
}

// isNotApplicable reports whether err means "cannot run here".
func isNotApplicable(err error) bool { return errors.Is(err, errNotApplicable) }
