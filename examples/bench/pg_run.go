package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/untorn/untorn/internal/benchstat"
)

// pgResult is one run of one contender.
type pgResult struct {
	Elapsed     time.Duration // writes and checkpoints
	Bytes       int64         // page bytes written
	Checkpoints []time.Duration
	WriteLat    []time.Duration
	KernelBytes int64 // /proc/self/io write_bytes during the run; -1 unknown
	WALBytes    int64 // full-page images appended (buffered-fpi)
	WALSyncs    int64
	Breakdown   timeBreakdown // untorn in COW mode: the containers' time, summed
	MaxRSS      int64         // VmHWM at the end of the run
	BaseRSS     int64         // VmRSS before Open
	PeakReset   bool
	Mode        string
}

// runPGOnce opens s on rels, runs the plan with a checkpoint every ckpt
// bytes (and one at the end), and closes it.
func runPGOnce(s relStore, dir string, rels []relation, cacheSize int64, plan []pgWrite, ckpt int64) (res pgResult, err error) {
	res.PeakReset = resetPeakRSS()
	res.BaseRSS = procStatusKB("VmRSS")
	if err := s.Open(dir, pgConfig{rels: rels, cacheSize: cacheSize, checkpoint: ckpt}); err != nil {
		return res, err
	}
	defer func() {
		if cerr := s.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: close: %w", s.Name(), cerr)
		}
	}()
	if d, ok := s.(describer); ok {
		res.Mode = d.describe()
	}
	bd, hasBreakdown := s.(breakdowner)
	var b0 timeBreakdown
	if hasBreakdown {
		b0 = bd.breakdown()
	}
	buf := makeAlignedPage(pgCombine * pgPage)
	kbase := kernelWriteBytes()
	checkpoint := func() error {
		t0 := time.Now()
		err := s.Checkpoint()
		d := time.Since(t0)
		res.Checkpoints, res.Elapsed = append(res.Checkpoints, d), res.Elapsed+d
		if err != nil {
			return fmt.Errorf("%s: checkpoint: %w", s.Name(), err)
		}
		return nil
	}
	res.WriteLat = make([]time.Duration, 0, len(plan))
	since := int64(0)
	for i, w := range plan {
		p := buf[:w.n*pgPage]
		p[0], p[1] = byte(i), byte(i>>8) // every write's content differs
		t0 := time.Now()
		err := s.Write(w.rel, p, int64(w.page)*pgPage)
		d := time.Since(t0)
		res.WriteLat, res.Elapsed = append(res.WriteLat, d), res.Elapsed+d
		if err != nil {
			return res, fmt.Errorf("%s: write: %w", s.Name(), err)
		}
		res.Bytes += int64(len(p))
		if since += int64(len(p)); since >= ckpt {
			since = 0
			if err := checkpoint(); err != nil {
				return res, err
			}
		}
	}
	if since > 0 {
		if err := checkpoint(); err != nil {
			return res, err
		}
	}
	res.KernelBytes = -1
	if k := kernelWriteBytes(); kbase >= 0 && k >= 0 {
		res.KernelBytes = k - kbase
	}
	if k, ok := s.(*kernelRels); ok {
		res.WALBytes, res.WALSyncs = k.WALBytes, k.WALSyncs
	}
	if hasBreakdown {
		res.Breakdown = bd.breakdown().minus(b0)
	}
	res.MaxRSS = peakRSS()
	return res, nil
}

// pgSummary is the medians over the runs of one contender.
type pgSummary struct {
	Contender  string `json:"contender"`
	Mode       string `json:"mode,omitempty"`
	NA         string `json:"na,omitempty"`
	Error      string `json:"error,omitempty"`
	Runs       int    `json:"runs"`
	Seconds    fig    `json:"seconds"`
	MBPerS     fig    `json:"mb_per_s"`
	CkptP50    fig    `json:"checkpoint_p50_ms"`
	CkptMax    fig    `json:"checkpoint_max_ms"`
	WriteP99   fig    `json:"write_p99_us"`
	KernelWA   fig    `json:"kernel_write_amplification"`
	WALMiB     fig    `json:"wal_mib"`
	WALSyncs   fig    `json:"wal_fdatasyncs"`
	RSSGrowth  fig    `json:"peak_rss_growth_mib"`
	PeakReset  bool   `json:"peak_rss_reset"`
	Breakdown  *pgBreakdown
	WritesDone int `json:"writes"`
}

// pgBreakdown is where a COW untorn contender's time went, in seconds
// per run (medians), summed over its containers.
type pgBreakdown struct {
	Commit, Flush, Clean, Checkpoint fig
}

func summarizePG(name string, runs []pgResult) pgSummary {
	s := pgSummary{Contender: name, Runs: len(runs)}
	if len(runs) == 0 {
		return s
	}
	med := func(f func(pgResult) float64) fig {
		xs := make([]float64, 0, len(runs))
		for _, r := range runs {
			xs = append(xs, f(r))
		}
		return fig(benchstat.Median(xs))
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	s.Seconds = med(func(r pgResult) float64 { return r.Elapsed.Seconds() })
	s.MBPerS = med(func(r pgResult) float64 { return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds() })
	s.CkptP50 = med(func(r pgResult) float64 { return ms(benchstat.Percentile(r.Checkpoints, 0.5)) })
	s.CkptMax = med(func(r pgResult) float64 { return ms(benchstat.Percentile(r.Checkpoints, 1)) })
	s.WriteP99 = med(func(r pgResult) float64 { return pct(r.WriteLat, 0.99) })
	s.KernelWA = med(func(r pgResult) float64 {
		if r.KernelBytes < 0 {
			return math.NaN()
		}
		return ratio(r.KernelBytes, r.Bytes)
	})
	s.WALMiB = med(func(r pgResult) float64 { return float64(r.WALBytes) / (1 << 20) })
	s.WALSyncs = med(func(r pgResult) float64 { return float64(r.WALSyncs) })
	s.RSSGrowth = med(func(r pgResult) float64 { return float64(r.MaxRSS-r.BaseRSS) / (1 << 20) })
	s.PeakReset, s.Mode, s.WritesDone = runs[0].PeakReset, runs[0].Mode, len(runs[0].WriteLat)
	if !runs[0].Breakdown.isZero() {
		sec := func(part func(timeBreakdown) time.Duration) fig {
			return med(func(r pgResult) float64 { return part(r.Breakdown).Seconds() })
		}
		s.Breakdown = &pgBreakdown{
			Commit:     sec(func(b timeBreakdown) time.Duration { return b.Commit }),
			Flush:      sec(func(b timeBreakdown) time.Duration { return b.Flush }),
			Clean:      sec(func(b timeBreakdown) time.Duration { return b.Clean }),
			Checkpoint: sec(func(b timeBreakdown) time.Duration { return b.Checkpoint }),
		}
	}
	return s
}

// pgReport is what the pg-checkpoint workload measured.
type pgReport struct {
	Files      int         `json:"files"`
	TotalBytes int64       `json:"relation_bytes"`
	MinSize    int64       `json:"min_relation_bytes"`
	MaxSize    int64       `json:"max_relation_bytes"`
	Writes     int64       `json:"write_bytes_per_run"`
	Checkpoint int64       `json:"checkpoint_every_bytes"`
	CacheSize  int64       `json:"cache_size"`
	Rows       []pgSummary `json:"rows"`
}

// runPG runs every contender reps times, taking turns (the first rotating
// by repetition), over the same plan per repetition.
func runPG(ctx context.Context, dir string, o options, names []string, progress io.Writer) (pgReport, error) {
	rels := pgRelations(o.pgFiles, int64(o.pgMax))
	rep := pgReport{Files: len(rels), Writes: int64(o.pgWrites), Checkpoint: int64(o.pgCheckpoint), CacheSize: int64(o.cache)}
	for i, r := range rels {
		rep.TotalBytes += r.Size
		if i == 0 || r.Size < rep.MinSize {
			rep.MinSize = r.Size
		}
		rep.MaxSize = max(rep.MaxSize, r.Size)
	}
	stores := make([]relStore, 0, len(names))
	for _, n := range names {
		s, err := newRelStore(n)
		if err != nil {
			return rep, err
		}
		stores = append(stores, s)
	}
	tallies := make([]tally, len(stores))
	results := make([][]pgResult, len(stores))
	for r := range o.reps {
		plan := pgPlan(rels, int64(o.pgWrites), o.seed+uint64(r))
		for k := range stores {
			if ctx.Err() != nil {
				break
			}
			i := (k + r) % len(stores)
			t := &tallies[i]
			if t.na != "" || t.err != "" {
				continue
			}
			res, err := runPGOnce(stores[i], dir, rels, int64(o.cache), plan, int64(o.pgCheckpoint))
			switch {
			case isNotApplicable(err):
				t.na = strings.TrimPrefix(err.Error(), errNotApplicable.Error()+": ")
				fmt.Fprintf(progress, "pg-checkpoint rep %d/%d %-14s n/a: %s\n", r+1, o.reps, stores[i].Name(), t.na)
			case err != nil:
				t.err = err.Error()
				fmt.Fprintf(progress, "pg-checkpoint rep %d/%d %-14s FAILED: %v\n", r+1, o.reps, stores[i].Name(), err)
			default:
				results[i] = append(results[i], res)
				fmt.Fprintf(progress, "pg-checkpoint rep %d/%d %-14s %6.1f s, %6.1f MB/s\n", r+1, o.reps, stores[i].Name(),
					res.Elapsed.Seconds(), float64(res.Bytes)/1e6/res.Elapsed.Seconds())
			}
		}
	}
	for i, s := range stores {
		row := summarizePG(s.Name(), results[i])
		row.NA, row.Error = tallies[i].na, tallies[i].err
		rep.Rows = append(rep.Rows, row)
	}
	return rep, ctx.Err()
}
